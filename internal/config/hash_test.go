package config

import "testing"

func TestHash(t *testing.T) {
	c := mustLoad(t, "vms:\n  a: {memory: 8G}\n  b: {memory: 8G}\n")
	raw := Hash(c.VMs["a"], c)
	FillDefaults(c)
	h := Hash(c.VMs["a"], c)
	if len(h) != 64 {
		t.Fatalf("Hash = %q, want 64 hex digits", h)
	}
	if raw != h {
		t.Errorf("hash before FillDefaults %s != after %s", raw, h)
	}
	if h != Hash(c.VMs["a"], c) {
		t.Errorf("hash not stable")
	}
	if h == Hash(c.VMs["b"], c) {
		t.Errorf("VMs with different names (UUIDs) hash the same")
	}
	// Explicitly writing a default does not change the hash.
	same := mustLoad(t, "vms:\n  a: {memory: 8G, vcpus: 2, osType: linux, display: spice}\n")
	if got := Hash(same.VMs["a"], same); got != h {
		t.Errorf("writing defaults out changed the hash")
	}
	for _, doc := range []string{
		"vms:\n  a: {memory: 16G}\n",
		"vms:\n  a: {memory: 8G, cpuPinning: auto}\n",
		"vms:\n  a: {memory: 8G, extraDevices: '<rng model=\"virtio\"><backend model=\"random\">/dev/urandom</backend></rng>'}\n",
		"accelerator: tcg\nvms:\n  a: {memory: 8G}\n",
		"profile: always-on\nvms:\n  a: {memory: 8G}\n",
		"hugepages: {enable: true, size: 1G}\nvms:\n  a: {memory: 8G}\n",
	} {
		d := mustLoad(t, doc)
		if Hash(d.VMs["a"], d) == h {
			t.Errorf("change not reflected in hash: %q", doc)
		}
	}
	// Options that do not shape the domain leave it alone.
	fw := mustLoad(t, "firewallPorts: {spice: true}\nconnect: qemu+ssh://h/system\nvms:\n  a: {memory: 8G}\n")
	if Hash(fw.VMs["a"], fw) != h {
		t.Errorf("firewall/connect changed the VM hash")
	}
	// Nor do the per-VM options that are not part of the definition:
	// toggling autostart of a running VM must not make a restart pending.
	for _, doc := range []string{
		"vms:\n  a: {memory: 8G, autoStart: true}\n",
		"vms:\n  a: {memory: 8G, diskSize: 500G}\n",
		"vms:\n  a: {memory: 8G, sshUser: alice}\n",
	} {
		d := mustLoad(t, doc)
		if Hash(d.VMs["a"], d) != h {
			t.Errorf("option outside the domain definition changed the hash: %q", doc)
		}
	}
}
