package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/deskvm/deskvm/internal/units"
)

// hashVersion changes when the hashed form changes, so old and new hashes
// never compare equal by accident.
const hashVersion = "deskvm-vm-config/v1"

// Hash is a stable sha256 (hex) of a VM's fully defaulted config plus the
// global options that shape its domain (accelerator, hugepages, storage).
// The renderer stores it in the domain's <metadata>, so that plan can tell
// a changed VM from an unchanged one without comparing XML. The VM (one
// of c.VMs) is defaulted on a copy first, so the same meaning gives the
// same hash whether or not the caller ran FillDefaults.
func Hash(vm *VM, c *Config) string {
	g := *c
	g.VMs = nil
	FillDefaults(&g)
	name := ""
	for n, x := range c.VMs {
		if x == vm {
			name = n
		}
	}
	v := cloneVM(vm)
	fillVMDefaults(v, name, &g, defaultsFor(g.Profile))
	// Options that never reach the domain definition stay out of the hash,
	// so changing them is not an update and never a pending restart:
	// autostart is a libvirt flag, the disk size a volume property,
	// enable and sshUser are deskvm's own.
	v.Enable, v.AutoStart, v.SSHUser, v.DiskSize = nil, nil, "", units.Size{}
	b, err := json.Marshal(struct {
		Version            string `json:"version"`
		VM                 *VM    `json:"vm"`
		Hugepages          bool   `json:"hugepages"`
		HugepageSize       uint64 `json:"hugepageSize"`
		DefaultStoragePath string `json:"defaultStoragePath"`
	}{hashVersion, v, g.UsesHugepages(), g.HugepageSizeBytes(), g.DefaultStoragePath})
	if err != nil {
		// Config holds only strings, numbers, bools, maps and slices.
		panic("config: hash: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// cloneVM deep-copies a VM (nil gives an empty VM).
func cloneVM(vm *VM) *VM {
	out := &VM{}
	if vm == nil {
		return out
	}
	b, err := json.Marshal(vm)
	if err != nil {
		panic("config: clone: " + err.Error())
	}
	if err := json.Unmarshal(b, out); err != nil {
		panic("config: clone: " + err.Error())
	}
	return out
}
