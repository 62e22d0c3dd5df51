// Package winmedia checks Windows install media and virtio-win driver
// media before a build: it reads the ISO (UDF and ISO 9660, never
// mounted), finds the boot files and sources/install.wim or install.esd,
// lists the editions from the WIM XML, and checks that the driver
// folders the answer file names exist on the virtio-win ISO. It reads
// headers and the XML only, so a multi-GB ISO takes milliseconds.
package winmedia

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/deskvm/deskvm/internal/iso"
	"github.com/deskvm/deskvm/internal/wim"
)

// Report is the result of a check; it is what validate-iso prints.
type Report struct {
	Valid        bool          `json:"valid"`
	Kind         string        `json:"kind"` // "windows" or "virtio-win"
	VolumeLabel  string        `json:"volumeLabel"`
	Filesystems  []string      `json:"filesystems"`
	InstallImage string        `json:"installImage"` // "sources/install.wim", "sources/install.esd" or ""
	EFILoader    string        `json:"efiLoader,omitempty"`
	BIOSBoot     string        `json:"biosBoot,omitempty"`
	Editions     []wim.Edition `json:"editions"`
	DriverPaths  []string      `json:"driverPaths,omitempty"` // virtio-win: the folders checked
	Problems     []string      `json:"problems"`
}

// Kinds of media.
const (
	KindWindows = "windows"
	KindVirtio  = "virtio-win"
)

// Paths on Windows install media.
const (
	EFILoader  = "efi/boot/bootx64.efi"
	BIOSBoot   = "boot/etfsboot.com"
	InstallWIM = "sources/install.wim"
	InstallESD = "sources/install.esd"
)

func newReport(im *iso.Image, kind string) Report {
	return Report{Kind: kind, VolumeLabel: im.VolumeLabel(), Filesystems: im.Filesystems(), Editions: []wim.Edition{}, Problems: []string{}}
}

func (r *Report) problem(format string, a ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, a...))
}

// exists reports whether p is a file (dir false) or directory (dir true);
// a damaged image is a problem, not a miss.
func (r *Report) exists(im *iso.Image, p string, dir bool) bool {
	st, err := im.Stat(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.problem("%s: %v", p, err)
		}
		return false
	}
	return st.IsDir == dir
}

// GuessKind says virtio-win when the image's root has a viostor folder
// and no sources folder, else windows.
func GuessKind(im *iso.Image) string {
	if _, err := im.Stat("sources"); err == nil {
		return KindWindows
	}
	if st, err := im.Stat("viostor"); err == nil && st.IsDir {
		return KindVirtio
	}
	return KindWindows
}

// CheckWindows checks Windows install media.
func CheckWindows(im *iso.Image) Report {
	r := newReport(im, KindWindows)
	if r.exists(im, EFILoader, false) {
		r.EFILoader = EFILoader
	} else {
		r.problem("no %s (the UEFI boot loader)", EFILoader)
	}
	if r.exists(im, BIOSBoot, false) {
		r.BIOSBoot = BIOSBoot
	} else {
		r.problem("no %s (the BIOS boot sector)", BIOSBoot)
	}
	for _, p := range []string{InstallWIM, InstallESD} {
		if r.exists(im, p, false) {
			r.InstallImage = p
			break
		}
	}
	if r.InstallImage == "" {
		if r.exists(im, "sources/install.swm", false) {
			r.problem("no sources/install.wim or install.esd (a split install.swm is not supported: join it with wimlib-imagex optimize or export)")
		} else {
			r.problem("no sources/install.wim or install.esd")
		}
	} else if eds, err := editions(im, r.InstallImage); err != nil {
		r.problem("%s: %v", r.InstallImage, err)
	} else {
		r.Editions = eds
	}
	r.Valid = len(r.Problems) == 0
	return r
}

func editions(im *iso.Image, p string) ([]wim.Edition, error) {
	f, err := im.Open(p)
	if err != nil {
		return nil, err
	}
	info, err := wim.Read(f, f.Size())
	if err != nil {
		return nil, err
	}
	return info.Editions, nil
}

// CheckVirtio checks that every driver folder (backslash or slash
// separated, e.g. viostor\w11\amd64) exists on virtio-win media and
// holds an .inf file.
func CheckVirtio(im *iso.Image, folders []string) Report {
	r := newReport(im, KindVirtio)
	r.DriverPaths = folders
	for _, f := range folders {
		if !r.exists(im, f, true) {
			r.problem(`no driver folder %s on the virtio-win media`, f)
			continue
		}
		entries, err := im.ReadDir(f)
		if err != nil {
			r.problem("%s: %v", f, err)
			continue
		}
		hasInf := false
		for _, e := range entries {
			if !e.IsDir && len(e.Name) > 4 && (e.Name[len(e.Name)-4:] == ".inf" || e.Name[len(e.Name)-4:] == ".INF") {
				hasInf = true
			}
		}
		if !hasInf {
			r.problem(`driver folder %s has no .inf file`, f)
		}
	}
	r.Valid = len(r.Problems) == 0
	return r
}
