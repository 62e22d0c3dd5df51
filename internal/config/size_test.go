package config

import (
	"reflect"
	"strings"
	"testing"
)

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
