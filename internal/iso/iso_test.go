package iso

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/testutil"
)

func openFixture(t *testing.T, path string) *Image {
	t.Helper()
	im, f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return im
}

// The Windows layout lives on UDF only: the ISO 9660 and Joliet trees of
// the fixture list README.TXT alone, as on real install media.
func TestWindowsISOFilesOnUDFOnly(t *testing.T) {
	m := testutil.WindowsMediaFixture(t)
	im := openFixture(t, m.WindowsISO)
	if got, want := strings.Join(im.Filesystems(), ","), "UDF,Joliet,Rock Ridge"; got != want {
		t.Fatalf("filesystems %s, want %s", got, want)
	}
	if im.VolumeLabel() != "CCCOMA_X64FRE_EN-US_DV9" {
		t.Errorf("label %q", im.VolumeLabel())
	}
	for _, tr := range im.trees[1:] {
		root, _ := tr.root()
		kids, err := tr.list(root)
		if err != nil {
			t.Fatal(err)
		}
		if len(kids) != 1 || kids[0].name != "README.TXT" {
			var names []string
			for _, k := range kids {
				names = append(names, k.name)
			}
			t.Errorf("%s root lists %v, want only README.TXT", tr.kind(), names)
		}
		if _, err := walk(tr, []string{"sources", "install.wim"}); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: sources/install.wim: %v, want not-exist", tr.kind(), err)
		}
	}
	for _, p := range []string{"efi/boot/bootx64.efi", `EFI\BOOT\BOOTX64.EFI`, "/boot/etfsboot.com", "Sources/Install.WIM"} {
		st, err := im.Stat(p)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if st.Filesystem != "UDF" || st.IsDir {
			t.Errorf("%s: %+v", p, st)
		}
	}
	f, err := im.Open("sources/install.wim")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(m.InstallWIM)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("install.wim read through UDF differs from the file put in (%d vs %d bytes)", len(got), len(want))
	}
	dir, err := im.ReadDir("SOURCES")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dir {
		names = append(names, d.Name)
	}
	if strings.Join(names, " ") != "boot.wim install.wim lang.ini" {
		t.Errorf("sources lists %v", names)
	}
	if _, err := im.Stat("sources/install.esd"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("install.esd: %v, want not-exist", err)
	}
}

// virtio-win media are ISO 9660 with Joliet and Rock Ridge: mixed-case
// names come from Joliet (first) or Rock Ridge, and lookups ignore case.
func TestVirtioISONames(t *testing.T) {
	m := testutil.WindowsMediaFixture(t)
	im := openFixture(t, m.VirtioISO)
	if got := strings.Join(im.Filesystems(), ","); got != "Joliet,Rock Ridge" {
		t.Fatalf("filesystems %s", got)
	}
	for _, tr := range im.trees {
		n, err := walk(tr, []string{"netkvm", "W11", "amd64", "NETKVM.INF"})
		if err != nil {
			t.Fatalf("%s: %v", tr.kind(), err)
		}
		if n.name != "netkvm.inf" {
			t.Errorf("%s: name %q, want netkvm.inf", tr.kind(), n.name)
		}
		root, _ := tr.root()
		kids, _ := tr.list(root)
		found := false
		for _, k := range kids {
			found = found || k.name == "NetKVM"
		}
		if !found {
			t.Errorf("%s: no NetKVM in root", tr.kind())
		}
	}
	st, err := im.Stat(`NetKVM\w11\amd64`)
	if err != nil || !st.IsDir {
		t.Fatalf("NetKVM\\w11\\amd64: %+v %v", st, err)
	}
	nonet := openFixture(t, m.VirtioNoNetISO)
	if _, err := nonet.Stat(`NetKVM\w11\amd64`); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("nonet ISO: %v", err)
	}
}

// A plain ISO 9660 image (no Joliet, no Rock Ridge) has upper-case 8.3
// names with ";1" versions; lookups still find them.
func TestPlainISO9660(t *testing.T) {
	gen := testutil.RequiresCommand(t, "genisoimage")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "docs"), 0o755)
	os.WriteFile(filepath.Join(tree, "docs", "readme.txt"), []byte("hello"), 0o644)
	out := filepath.Join(dir, "plain.iso")
	if b, err := exec.Command(gen, "-quiet", "-V", "PLAIN", "-o", out, tree).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	im := openFixture(t, out)
	if got := strings.Join(im.Filesystems(), ","); got != "ISO 9660" {
		t.Fatalf("filesystems %s", got)
	}
	if im.VolumeLabel() != "PLAIN" {
		t.Errorf("label %q", im.VolumeLabel())
	}
	f, err := im.Open("docs/readme.txt")
	if err != nil {
		t.Fatal(err)
	}
	if f.Stat().Name != "README.TXT" {
		t.Errorf("name %q", f.Stat().Name)
	}
	b := make([]byte, 5)
	if _, err := f.ReadAt(b, 0); err != nil || string(b) != "hello" {
		t.Fatalf("read %q %v", b, err)
	}
}

// A truncated image fails with an error that says so, at whatever point
// it was cut.
func TestTruncatedImage(t *testing.T) {
	m := testutil.WindowsMediaFixture(t)
	full, err := os.ReadFile(m.WindowsISO)
	if err != nil {
		t.Fatal(err)
	}
	wimStart := int64(0)
	{
		im, _ := Open(bytes.NewReader(full), int64(len(full)))
		f, err := im.Open("sources/install.wim")
		if err != nil {
			t.Fatal(err)
		}
		wimStart = f.extents[0].diskOff
	}
	for _, cut := range []int64{0, 100, 16 * 2048, 17*2048 + 5, 256*2048 + 100, wimStart + 10, wimStart + 5000} {
		data := full[:cut]
		im, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Logf("cut at %d: open: %v", cut, err)
			continue
		}
		f, err := im.Open("sources/install.wim")
		if err != nil {
			if !strings.Contains(err.Error(), "truncated image") && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("cut at %d: %v", cut, err)
			}
			t.Logf("cut at %d: open install.wim: %v", cut, err)
			continue
		}
		_, err = io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
		if err == nil {
			t.Errorf("cut at %d: install.wim read whole from a truncated image", cut)
		} else if !strings.Contains(err.Error(), "truncated image") {
			t.Errorf("cut at %d: error %v does not say truncated", cut, err)
		}
	}
}

func TestNotAnImage(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("hello"), make([]byte, 64<<10)} {
		if _, err := Open(bytes.NewReader(data), int64(len(data))); err == nil || !strings.Contains(err.Error(), "not an ISO 9660 or UDF image") {
			t.Errorf("%d bytes: %v", len(data), err)
		}
	}
}
