package winmedia

import (
	"testing"

	"github.com/deskvm/deskvm/internal/image/unattend"
	"github.com/deskvm/deskvm/internal/iso"
	"github.com/deskvm/deskvm/internal/testutil"
)

func check(t testing.TB, path string) Report {
	im, f, err := iso.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return CheckWindows(im)
}

func TestCheckWindowsFixtures(t *testing.T) {
	m := testutil.WindowsMediaFixture(t)
	r := check(t, m.WindowsISO)
	if !r.Valid || r.InstallImage != InstallWIM || len(r.Editions) != 3 || r.EFILoader == "" || r.BIOSBoot == "" {
		t.Errorf("%+v", r)
	}
	r = check(t, m.VirtioISO)
	if r.Valid || len(r.Problems) != 3 {
		t.Errorf("virtio-win ISO as Windows media: %+v", r)
	}
	im, f, err := iso.OpenFile(m.VirtioISO)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if GuessKind(im) != KindVirtio {
		t.Error("virtio-win ISO not recognised")
	}
	if r := CheckVirtio(im, unattend.DriverFolders("w11")); !r.Valid {
		t.Errorf("%+v", r)
	}
	if r := CheckVirtio(im, unattend.DriverFolders("2k25")); r.Valid || len(r.Problems) != len(unattend.VirtioDrivers) {
		t.Errorf("2k25 folders are not on the fixture, got %+v", r)
	}
}

// BenchmarkCheckWindows: the whole check (open, volume descriptors, UDF
// walk, WIM header and XML) on the 1 MB fixture ISO as the baseline and on
// the 5 GiB sparse one whose install.wim sits past 4 GiB.
func BenchmarkCheckWindows(b *testing.B) {
	m := testutil.WindowsMediaFixture(b)
	for _, c := range []struct{ name, path string }{{"fixture-1MB", m.WindowsISO}, {"large-5GiB", testutil.LargeWindowsISO(b)}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if r := check(b, c.path); !r.Valid {
					b.Fatalf("%+v", r)
				}
			}
		})
	}
}
