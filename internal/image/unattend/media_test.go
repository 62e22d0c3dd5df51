package unattend

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/iso"
	"github.com/deskvm/deskvm/internal/testutil"
)

func answer(t *testing.T) []byte {
	t.Helper()
	c := base()
	c.Password = `p&<>"'w`
	b, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The answer ISO holds autounattend.xml under its Joliet name, read back
// with deskvm's own ISO reader and with isoinfo.
func TestWriteISO(t *testing.T) {
	want := answer(t)
	path := filepath.Join(t.TempDir(), "answer.iso")
	if err := WriteISO(path, want); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("answer ISO mode %v (%v), want 0600: it holds the password", st.Mode(), err)
	}
	im, f, err := iso.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if im.VolumeLabel() != MediaLabel {
		t.Errorf("label %q", im.VolumeLabel())
	}
	af, err := im.Open(FileName)
	if err != nil {
		t.Fatal(err)
	}
	if af.Stat().Name != FileName || af.Stat().Filesystem != "Joliet" {
		t.Errorf("answer file recorded as %+v", af.Stat())
	}
	got, _ := io.ReadAll(io.NewSectionReader(af, 0, af.Size()))
	if !bytes.Equal(got, want) {
		t.Fatal("answer file on the ISO differs")
	}
	isoinfo := testutil.RequiresCommand(t, "isoinfo")
	out, err := exec.Command(isoinfo, "-J", "-i", path, "-x", "/"+FileName).Output()
	if err != nil || !bytes.Equal(out, want) {
		t.Fatalf("isoinfo -J -x: %v (%d bytes)", err, len(out))
	}
}

// The floppy is a FAT12 image that mtools and fsck.fat accept, with the
// answer file under its long name.
func TestFloppy(t *testing.T) {
	want := answer(t)
	img, err := Floppy(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(img) != 1474560 {
		t.Fatalf("size %d", len(img))
	}
	path := filepath.Join(t.TempDir(), "answer.img")
	os.WriteFile(path, img, 0o644)
	fsck := testutil.RequiresCommand(t, "fsck.fat")
	if out, err := exec.Command(fsck, "-n", "-v", path).CombinedOutput(); err != nil {
		t.Fatalf("fsck.fat -n: %v\n%s", err, out)
	}
	mdir := testutil.RequiresCommand(t, "mdir")
	out, err := exec.Command(mdir, "-i", path, "::").CombinedOutput()
	if err != nil || !strings.Contains(string(out), FileName) || !strings.Contains(string(out), MediaLabel) {
		t.Fatalf("mdir: %v\n%s", err, out)
	}
	mtype := testutil.RequiresCommand(t, "mtype")
	got, err := exec.Command(mtype, "-i", path, "::"+strings.ToUpper(FileName)).Output()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("mtype: %v (%d bytes, want %d)", err, len(got), len(want))
	}
	if _, err := Floppy(make([]byte, 2<<20)); err == nil {
		t.Error("2 MiB answer accepted on a floppy")
	}
}
