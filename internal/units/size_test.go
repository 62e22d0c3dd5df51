package units

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := map[string]uint64{
		"16G": 16 * GiB, "16GiB": 16 * GiB, "16384M": 16 * GiB, "512K": 512 * KiB, "512KiB": 512 * KiB,
		"1T": TiB, "2M": 2 * MiB, "100B": 100, "0G": 0, "1536M": 1536 * MiB,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got.Bytes() != want || got.String() != in || !got.IsSet() {
			t.Errorf("ParseSize(%q) = %d (%q), %v; want %d", in, got.Bytes(), got, err, want)
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
	for b, want := range map[uint64]string{16 * GiB: "16G", 1536 * MiB: "1536M", 512 * KiB: "512K", 100: "100B", 0: "0B", TiB: "1T"} {
		if got := FormatSize(b); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", b, got, want)
		}
		if back, err := ParseSize(FormatSize(b)); err != nil || back.Bytes() != b {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", b, back.Bytes(), err)
		}
		if got := Bytes(b); got.Bytes() != b || got.String() != want {
			t.Errorf("Bytes(%d) = %d %q", b, got.Bytes(), got)
		}
	}
}

// A Size is written back as it was written, and unset sizes are left out
// of JSON with omitzero (the config hash and defaults output rely on both).
func TestSizeJSONRoundTrip(t *testing.T) {
	type vm struct {
		Memory   Size `json:"memory,omitempty,omitzero"`
		DiskSize Size `json:"diskSize,omitempty,omitzero"`
	}
	in := vm{Memory: MustParseSize("16GiB")}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `{"memory":"16GiB"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var out vm
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("Unmarshal = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"memory":"16GB"}`), &out); err == nil || !strings.Contains(err.Error(), `invalid size "16GB"`) {
		t.Errorf("Unmarshal of a decimal unit: %v", err)
	}
}

func TestSizeOr(t *testing.T) {
	def := MustParseSize("4G")
	if got := (Size{}).Or(def); got != def {
		t.Errorf("unset.Or = %v", got)
	}
	if got := MustParseSize("0G").Or(def); got.Bytes() != 0 || !got.IsSet() {
		t.Errorf("0G.Or = %v: a given 0 is kept (Validate reports it)", got)
	}
}
