package iso

import (
	"testing"

	"github.com/deskvm/deskvm/internal/testutil"
	"github.com/deskvm/deskvm/internal/wim"
)

// A 5 GiB UDF image (sparse on disk) whose install.wim data starts past
// 4 GiB: offsets are 64-bit all the way, and the 5 GiB filler is one file
// of several UDF extents (the ISO 9660 side records it cut to 4 GiB).
func TestLargeImagePast4GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 5 GiB sparse fixture (about 30 s the first time)")
	}
	path := testutil.LargeWindowsISO(t)
	im, f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := im.Open("sources/install.wim")
	if err != nil {
		t.Fatal(err)
	}
	if len(w.extents) == 0 || w.extents[0].diskOff < 4<<30 {
		t.Fatalf("install.wim extents %+v do not start past 4 GiB", w.extents)
	}
	info, err := wim.Read(w, w.Size())
	if err != nil || len(info.Editions) != len(testutil.WindowsFixtureEditions) {
		t.Fatalf("%+v %v", info, err)
	}
	filler, err := im.Open("sources/aaa-filler.swm")
	if err != nil {
		t.Fatal(err)
	}
	if filler.Size() != 5<<30 || filler.Stat().Filesystem != "UDF" || len(filler.extents) < 2 {
		t.Fatalf("filler: %+v, %d extents", filler.Stat(), len(filler.extents))
	}
}
