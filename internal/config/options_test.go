package config

import "testing"

// TestOptionsDefaults: Options finds each kind of default from
// FillDefaults, not from a table.
func TestOptionsDefaults(t *testing.T) {
	opts, err := Options()
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]Option{}
	for _, o := range opts {
		byPath[o.Path] = o
	}
	for _, tc := range []struct {
		path  string
		kind  DefaultKind
		value any
		text  string
	}{
		{"profile", FixedDefault, "occasional", ""},
		{"vms.<name>.memory", FixedDefault, "4G", ""},
		{"vms.<name>.vcpus", FixedDefault, float64(2), ""},
		{"vms.<name>.memballoon.statsInterval", FixedDefault, float64(5), ""},
		{"vms.<name>.portForwards.*.protocol", FixedDefault, "tcp", ""},
		{"hugepages.enable", ProfileDefault, nil, "true for profile always-on, false for occasional"},
		{"vms.<name>.autoStart", ProfileDefault, nil, "true for profile always-on, false for occasional"},
		{"vms.<name>.currentMemory", DerivedDefault, nil, "memory"},
		{"vms.<name>.uuid", DerivedDefault, nil, "a version 5 UUID derived from the VM name, stable across defines"},
		{"vms.<name>.accelerator", DerivedDefault, nil, "the global accelerator"},
		{"vms.<name>.disk.bus", DerivedDefault, nil, "virtio (default), sata (default for osType macos)"},
		{"hugepages.count", DerivedDefault, nil, "0 (default) computes it"},
		{"vms.<name>.sshUser", NoDefault, nil, ""},
		{"vms.<name>.portForwards.*.host", NoDefault, nil, ""},
	} {
		o, ok := byPath[tc.path]
		if !ok {
			t.Errorf("no option %s", tc.path)
			continue
		}
		d := o.Default
		if d.Kind != tc.kind || (tc.kind == FixedDefault && d.Value != tc.value) || (tc.text != "" && d.Text != tc.text) {
			t.Errorf("%s: default %+v, want kind %v value %v text %q", tc.path, d, tc.kind, tc.value, tc.text)
		}
	}
	if o := byPath["vms.<name>.portForwards.*.host"]; !o.Required || o.Minimum == nil || *o.Minimum != 1 || o.Maximum == nil || *o.Maximum != 65535 {
		t.Errorf("portForwards.*.host: %+v", o)
	}
	if o := byPath["vms"]; o.Type != "map" || o.KeyPattern == "" || o.KeyMaxLength != 64 || o.Items == nil || o.Items.Type != "object" {
		t.Errorf("vms: %+v", o)
	}
	if o := byPath["vms.<name>.cpuPinning"]; o.Type != "pinning" || len(o.Enum) != 1 || o.Enum[0] != "auto" || o.Items == nil {
		t.Errorf("cpuPinning: %+v", o)
	}
}
