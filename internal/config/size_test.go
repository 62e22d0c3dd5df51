package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := map[string]uint64{
		"16G": 16 * gib, "16GiB": 16 * gib, "16384M": 16 * gib, "512K": 512 * kib, "512KiB": 512 * kib,
		"1T": tib, "2M": 2 * mib, "100B": 100, "0G": 0, "1536M": 1536 * mib,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]string{
		"16Q":                      `invalid size "16Q"`,
		"16":                       `invalid size "16": missing unit`,
		"16GB":                     `"GB" is a decimal unit; use G or GiB`,
		"16g":                      `unit "g" must be upper case (G)`,
		"":                         `invalid size ""`,
		"G":                        `invalid size "G"`,
		"1.5G":                     `invalid size "1.5G"`,
		"-1G":                      `invalid size "-1G"`,
		"99999999999T":             `invalid size "99999999999T": too large`,
		"99999999999999999999999G": `number too large`,
	}
	for in, want := range bad {
		_, err := ParseSize(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSize(%q) error = %v; want it to contain %q", in, err, want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for b, want := range map[uint64]string{16 * gib: "16G", 1536 * mib: "1536M", 512 * kib: "512K", 100: "100B", 0: "0B", tib: "1T"} {
		if got := FormatSize(b); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", b, got, want)
		}
		if back, err := ParseSize(FormatSize(b)); err != nil || back != b {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", b, back, err)
		}
	}
}

func TestParseCPUSet(t *testing.T) {
	good := map[string][]int{
		"0-3,8,10-11": {0, 1, 2, 3, 8, 10, 11},
		"3":           {3},
		"0-7,^3":      {0, 1, 2, 4, 5, 6, 7},
		"2,1,2":       {1, 2},
		" 0 , 1 ":     {0, 1},
	}
	for in, want := range good {
		got, err := ParseCPUSet(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseCPUSet(%q) = %v, %v; want %v", in, got, err, want)
		}
		if again, _ := ParseCPUSet(FormatCPUSet(got)); !reflect.DeepEqual(again, got) {
			t.Errorf("FormatCPUSet(%v) = %q does not parse back", got, FormatCPUSet(got))
		}
	}
	bad := map[string]string{
		"":         `invalid CPU set "": empty`,
		"3-1":      `range "3-1" runs backwards`,
		"a":        `"a" is not a CPU number`,
		"1,,2":     `missing CPU number`,
		"-1":       `missing CPU number`,
		"0-":       `missing CPU number`,
		"^3":       `selects no CPU`,
		"0-3,^1-2": `^ excludes a single CPU`,
		"99999":    `CPU 99999 is beyond 8191`,
		"0-3x":     `"3x" is not a CPU number`,
	}
	for in, want := range bad {
		_, err := ParseCPUSet(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"`+in+`"`) {
			t.Errorf("ParseCPUSet(%q) error = %v; want the value quoted and %q", in, err, want)
		}
	}
	if got := FormatCPUSet([]int{0, 1, 2, 3, 8, 10, 11}); got != "0-3,8,10-11" {
		t.Errorf("FormatCPUSet = %q", got)
	}
}

func TestParsePCIAddress(t *testing.T) {
	good := map[string]PCIAddress{
		"0000:01:00.0": {0, 1, 0, 0},
		"01:00.1":      {0, 1, 0, 1},
		"0001:af:1f.7": {1, 0xaf, 0x1f, 7},
	}
	for in, want := range good {
		got, err := ParsePCIAddress(in)
		if err != nil || got != want {
			t.Errorf("ParsePCIAddress(%q) = %v, %v", in, got, err)
		}
	}
	if got := (PCIAddress{0, 1, 0, 0}).String(); got != "0000:01:00.0" {
		t.Errorf("String = %q", got)
	}
	for _, in := range []string{"", "01:00", "1:00.0.0", "00:01:00.0", "01:20.0", "01:00.8", "zz:00.0", "0000:01:00:00.0"} {
		if _, err := ParsePCIAddress(in); err == nil {
			t.Errorf("ParsePCIAddress(%q) accepted", in)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"memory", "currentMemory", "cpuPinning", "statsInterval", "vcpus", "osType"}
	for got, want := range map[string]string{
		"memroy": "memory", "Memory": "memory", "cpu_pinning": "cpuPinning", "cpupinning": "cpuPinning",
		"vcpu": "vcpus", "ostype": "osType", "statsIntervall": "statsInterval", "zzz": "", "network": "",
	} {
		if s := suggest(got, keys); s != want {
			t.Errorf("suggest(%q) = %q, want %q", got, s, want)
		}
	}
}
