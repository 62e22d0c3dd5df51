package testutil

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unicode/utf16"
)

// FixtureEdition is one edition put into the fixture install.wim.
type FixtureEdition struct {
	Index     int
	Name      string
	EditionID string
	Build     int
}

// WindowsFixtureEditions are the editions of the fixture WIM and ESD, in
// index order: Windows 11 names and build 26100, like a 24H2 ISO.
var WindowsFixtureEditions = []FixtureEdition{
	{1, "Windows 11 Home", "Core", 26100},
	{2, "Windows 11 Pro", "Professional", 26100},
	{3, "Windows 11 Pro for Workstations", "ProfessionalWorkstation", 26100},
}

// VirtioFixtureDrivers are the driver folders of the fixture virtio-win
// ISO; each has w10\amd64 and w11\amd64 with an .inf file.
var VirtioFixtureDrivers = []string{"viostor", "vioscsi", "NetKVM", "Balloon", "vioserial", "viorng"}

// WindowsMedia are fixture files in the Windows install media layout,
// made with wimlib-imagex and genisoimage (no Windows needed).
type WindowsMedia struct {
	Dir        string
	InstallWIM string // three editions, LZX
	InstallESD string // the same editions exported LZMS --solid
	// WindowsISO has the Windows layout on UDF (boot/etfsboot.com,
	// efi/boot/bootx64.efi, sources/install.wim, setup.exe) while its
	// ISO 9660 and Joliet trees hold only README.TXT, like real media.
	WindowsISO string
	// ESDISO is a UDF + ISO 9660 bridge image with sources/install.esd.
	ESDISO string
	// NoInstallISO has the Windows layout but no sources/install.*.
	NoInstallISO string
	// VirtioISO is a virtio-win-like ISO 9660 + Joliet + Rock Ridge image.
	VirtioISO string
	// VirtioNoNetISO lacks NetKVM\w11\amd64.
	VirtioNoNetISO string
}

// windowsMediaVersion changes whenever the fixture's content changes, so
// the cache under .cache/winmedia is rebuilt.
const windowsMediaVersion = "winmedia-3"

var windowsMediaBuild struct {
	sync.Mutex
	done  bool
	media WindowsMedia
	err   error
}

// WindowsMediaFixture builds (once, cached in .cache/winmedia/KEY, about
// 2 s) and returns the Windows media fixtures.
func WindowsMediaFixture(t testing.TB) WindowsMedia {
	t.Helper()
	RequiresCommand(t, "wimlib-imagex")
	RequiresCommand(t, "genisoimage")
	windowsMediaBuild.Lock()
	defer windowsMediaBuild.Unlock()
	if !windowsMediaBuild.done {
		windowsMediaBuild.media, windowsMediaBuild.err = buildWindowsMedia()
		windowsMediaBuild.done = true
	}
	if windowsMediaBuild.err != nil {
		t.Fatalf("windows media fixture: %v", windowsMediaBuild.err)
	}
	return windowsMediaBuild.media
}

func toolVersions(cmds ...[]string) string {
	var b strings.Builder
	for _, c := range cmds {
		out, _ := exec.Command(c[0], c[1:]...).CombinedOutput()
		b.Write(out)
	}
	return b.String()
}

// cachedFixture runs build into a fresh directory under
// .cache/NAME/KEY unless that directory is complete already; a file
// lock keeps parallel test processes from building it twice.
func cachedFixture(name, key string, build func(dir string) error) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(key))
	base := filepath.Join(root, ".cache", name)
	dir := filepath.Join(base, hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(base, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(base, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := build(tmp); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), []byte(key), 0o644); err != nil {
		return "", err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

func run(dir string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(string(out), 2000))
	}
	return nil
}

func writeFiles(root string, files map[string]string) error {
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func buildWindowsMedia() (WindowsMedia, error) {
	key := windowsMediaVersion + "\n" + toolVersions([]string{"wimlib-imagex", "--version"}, []string{"genisoimage", "--version"})
	dir, err := cachedFixture("winmedia", key, makeWindowsMedia)
	if err != nil {
		return WindowsMedia{}, err
	}
	return WindowsMedia{
		Dir:            dir,
		InstallWIM:     filepath.Join(dir, "install.wim"),
		InstallESD:     filepath.Join(dir, "install.esd"),
		WindowsISO:     filepath.Join(dir, "win11.iso"),
		ESDISO:         filepath.Join(dir, "win11-esd.iso"),
		NoInstallISO:   filepath.Join(dir, "noinstall.iso"),
		VirtioISO:      filepath.Join(dir, "virtio-win.iso"),
		VirtioNoNetISO: filepath.Join(dir, "virtio-win-nonet.iso"),
	}, nil
}

// WindowsFixtureWIM captures one small directory per edition into path.
func makeWIM(dir, path string) error {
	for i, e := range WindowsFixtureEditions {
		src := filepath.Join(dir, "edition"+fmt.Sprint(e.Index))
		if err := writeFiles(src, map[string]string{
			"Windows/System32/edition.txt":     e.Name + "\r\n",
			"Windows/System32/config/SOFTWARE": strings.Repeat("deskvm fixture ", 64),
		}); err != nil {
			return err
		}
		verb := "append"
		if i == 0 {
			verb = "capture"
		}
		args := []string{verb, src, path, e.Name, e.Name + " (deskvm fixture)",
			"--image-property", "DISPLAYNAME=" + e.Name,
			"--image-property", "FLAGS=" + e.EditionID,
			"--image-property", "WINDOWS/ARCH=9",
			"--image-property", "WINDOWS/EDITIONID=" + e.EditionID,
			"--image-property", "WINDOWS/LANGUAGES/LANGUAGE=en-US",
			"--image-property", "WINDOWS/VERSION/MAJOR=10",
			"--image-property", "WINDOWS/VERSION/MINOR=0",
			"--image-property", "WINDOWS/VERSION/BUILD=" + fmt.Sprint(e.Build),
			"--image-property", "WINDOWS/VERSION/SPBUILD=1742",
		}
		if err := run(dir, "wimlib-imagex", args...); err != nil {
			return err
		}
	}
	return nil
}

const udfReadme = "This disc contains a \"UDF\" file system and requires an operating system\r\nthat supports the ISO-13346 \"UDF\" file system specification.\r\n"

func windowsTree(root string, install string, installPath string) error {
	if err := writeFiles(root, map[string]string{
		"README.TXT":                         udfReadme,
		"setup.exe":                          "MZ fixture",
		"boot/etfsboot.com":                  "fixture BIOS boot sector",
		"efi/boot/bootx64.efi":               "MZ fixture EFI loader",
		"efi/microsoft/boot/efisys.bin":      "fixture EFI boot image",
		"sources/boot.wim":                   "",
		"sources/lang.ini":                   "[Available UI Languages]\r\nen-US = 3\r\n",
		"support/logging/deskvm-fixture.txt": "fixture\r\n",
	}); err != nil {
		return err
	}
	if install == "" {
		return nil
	}
	b, err := os.ReadFile(install)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, filepath.FromSlash(installPath)), b, 0o644)
}

func makeWindowsMedia(dir string) error {
	wimPath := filepath.Join(dir, "install.wim")
	if err := makeWIM(dir, wimPath); err != nil {
		return err
	}
	esdPath := filepath.Join(dir, "install.esd")
	if err := run(dir, "wimlib-imagex", "export", wimPath, "all", esdPath, "--compress=LZMS", "--solid"); err != nil {
		return err
	}
	isos := []struct {
		name, label, install, installPath string
		readmeOnly                        bool
	}{
		{"win11.iso", "CCCOMA_X64FRE_EN-US_DV9", wimPath, "sources/install.wim", true},
		{"win11-esd.iso", "ESD-ISO", esdPath, "sources/install.esd", false},
		{"noinstall.iso", "CCCOMA_X64FRE_EN-US_DV9", "", "", false},
	}
	for _, s := range isos {
		tree := filepath.Join(dir, "tree-"+s.name)
		if err := windowsTree(tree, s.install, s.installPath); err != nil {
			return err
		}
		out := filepath.Join(dir, s.name)
		if err := run(dir, "genisoimage", "-quiet", "-udf", "-J", "-R", "-joliet-long", "-V", s.label, "-o", out, tree); err != nil {
			return err
		}
		if s.readmeOnly {
			if err := keepOnlyReadmeOn9660(out); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
	}
	for _, v := range []struct {
		name string
		skip string
	}{{"virtio-win.iso", ""}, {"virtio-win-nonet.iso", "NetKVM/w11"}} {
		tree := filepath.Join(dir, "tree-"+v.name)
		files := map[string]string{"virtio-win_license.txt": "fixture\n", "guest-agent/qemu-ga-x86_64.msi": "fixture"}
		for _, d := range VirtioFixtureDrivers {
			for _, win := range []string{"w10", "w11", "2k22"} {
				if d+"/"+win == v.skip {
					continue
				}
				inf := strings.ToLower(d)
				files[d+"/"+win+"/amd64/"+inf+".inf"] = "; fixture " + d + "\r\n"
				files[d+"/"+win+"/amd64/"+inf+".sys"] = "fixture"
			}
		}
		if err := writeFiles(tree, files); err != nil {
			return err
		}
		if err := run(dir, "genisoimage", "-quiet", "-J", "-R", "-joliet-long", "-V", "virtio-win-0.1.266", "-o", filepath.Join(dir, v.name), tree); err != nil {
			return err
		}
	}
	for _, e := range mustGlob(filepath.Join(dir, "tree-*")) {
		os.RemoveAll(e)
	}
	for _, e := range mustGlob(filepath.Join(dir, "edition*")) {
		os.RemoveAll(e)
	}
	return nil
}

func mustGlob(p string) []string {
	m, _ := filepath.Glob(p)
	return m
}

// keepOnlyReadmeOn9660 rewrites the root directory of the ISO 9660 and
// Joliet trees so that they list only README.TXT, while the UDF tree
// keeps every file: what Windows install media look like to a reader
// that knows no UDF. genisoimage cannot make this (its -hide hides from
// UDF too).
func keepOnlyReadmeOn9660(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	patched := 0
	for sec := int64(16); sec < 32; sec++ {
		vd := make([]byte, 2048)
		if _, err := f.ReadAt(vd, sec*2048); err != nil {
			return err
		}
		if string(vd[1:6]) != "CD001" || (vd[0] != 1 && vd[0] != 2) {
			if vd[0] == 255 {
				break
			}
			continue
		}
		joliet := vd[0] == 2
		root := vd[156:]
		lba, size := int64(binary.LittleEndian.Uint32(root[2:6])), int64(binary.LittleEndian.Uint32(root[10:14]))
		data := make([]byte, size)
		if _, err := f.ReadAt(data, lba*2048); err != nil {
			return err
		}
		var keep []byte
		for pos := 0; pos < len(data); {
			l := int(data[pos])
			if l == 0 {
				pos = (pos/2048 + 1) * 2048
				continue
			}
			rec := data[pos : pos+l]
			pos += l
			nl := int(rec[32])
			name := string(rec[33 : 33+nl])
			if joliet {
				u := make([]uint16, nl/2)
				for i := range u {
					u[i] = binary.BigEndian.Uint16(rec[33+2*i:])
				}
				name = string(utf16.Decode(u))
			}
			if nl == 1 && (rec[33] == 0 || rec[33] == 1) || strings.HasPrefix(strings.ToUpper(name), "README") {
				keep = append(keep, rec...)
			}
		}
		if len(keep) > 2048 {
			return fmt.Errorf("kept root records do not fit one sector")
		}
		out := make([]byte, len(data))
		copy(out, keep)
		if _, err := f.WriteAt(out, lba*2048); err != nil {
			return err
		}
		patched++
	}
	if patched != 2 {
		return fmt.Errorf("patched %d root directories, expected 2 (ISO 9660 and Joliet)", patched)
	}
	return nil
}

// LargeWindowsISO is a 5 GiB sparse UDF + ISO 9660 image whose
// sources/install.wim (the fixture WIM) sits after a 5 GiB filler file,
// so its data starts past 4 GiB. Built once (about 30 s; it writes 5 GiB
// and then punches the zeros out again) and cached in .cache/winmedia-large.
func LargeWindowsISO(t testing.TB) string {
	t.Helper()
	m := WindowsMediaFixture(t)
	RequiresCommand(t, "fallocate")
	key := windowsMediaVersion + "-large\n" + toolVersions([]string{"wimlib-imagex", "--version"}, []string{"genisoimage", "--version"})
	dir, err := cachedFixture("winmedia-large", key, func(dir string) error {
		tree := filepath.Join(dir, "tree")
		if err := windowsTree(tree, m.InstallWIM, "sources/install.wim"); err != nil {
			return err
		}
		filler := filepath.Join(tree, "sources", "aaa-filler.swm")
		if err := os.WriteFile(filler, nil, 0o644); err != nil {
			return err
		}
		if err := os.Truncate(filler, 5<<30); err != nil {
			return err
		}
		sortFile := filepath.Join(dir, "sort.txt")
		if err := os.WriteFile(sortFile, []byte(filler+" 100\n"), 0o644); err != nil {
			return err
		}
		out := filepath.Join(dir, "large.iso")
		if err := run(dir, "genisoimage", "-quiet", "-udf", "-allow-limited-size", "-J", "-R", "-joliet-long", "-sort", sortFile, "-V", "LARGE_FIXTURE", "-o", out, tree); err != nil {
			return err
		}
		if err := run(dir, "fallocate", "--dig-holes", out); err != nil {
			return err
		}
		return os.RemoveAll(tree)
	})
	if err != nil {
		t.Fatalf("large windows ISO fixture: %v", err)
	}
	return filepath.Join(dir, "large.iso")
}
