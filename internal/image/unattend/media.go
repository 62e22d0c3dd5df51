package unattend

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf16"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// FileName is the name Windows Setup looks for at the root of every
// removable and optical drive.
const FileName = "autounattend.xml"

// MediaLabel is the volume label of the answer media.
const MediaLabel = "OEMDRV"

// WriteISO writes a small ISO 9660 image with Joliet names holding
// autounattend.xml at its root (the default answer media: Setup reads
// optical drives under UEFI and BIOS alike).
func WriteISO(path string, answer []byte) (err error) {
	work, err := os.MkdirTemp(filepath.Dir(path), ".answer-iso-")
	if err != nil {
		return fmt.Errorf("answer iso: %w", err)
	}
	defer os.RemoveAll(work)
	tmp := path + ".tmp"
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	const size = 1 << 20
	store, err := file.CreateFromPath(tmp, size)
	if err != nil {
		return fmt.Errorf("answer iso: %w", err)
	}
	defer store.Close()
	fsys, err := iso9660.Create(store, size, 0, 2048, work)
	if err != nil {
		return fmt.Errorf("answer iso: %w", err)
	}
	f, err := fsys.OpenFile("/"+FileName, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return fmt.Errorf("answer iso: %w", err)
	}
	if _, err := f.Write(answer); err != nil {
		return fmt.Errorf("answer iso: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("answer iso: %w", err)
	}
	if err := fsys.Finalize(iso9660.FinalizeOptions{Joliet: true, VolumeIdentifier: MediaLabel}); err != nil {
		return fmt.Errorf("answer iso: %w", err)
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("answer iso: %w", err)
	}
	// The answer file holds the account password in plain text.
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("answer iso: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("answer iso: %w", err)
	}
	return nil
}

// Floppy geometry: a 1.44 MB FAT12 disk.
const (
	floppySectors   = 2880
	floppyFATSecs   = 9
	floppyRootEnts  = 224
	floppyFirstData = 1 + 2*floppyFATSecs + floppyRootEnts*32/512 // sector 33
)

// Floppy returns a 1.44 MB FAT12 floppy image with autounattend.xml (as a
// VFAT long name over the short name AUTOUN~1.XML) in its root, for
// answerMedia: floppy.
func Floppy(answer []byte) ([]byte, error) {
	clusters := (len(answer) + 511) / 512
	if clusters > floppySectors-floppyFirstData {
		return nil, fmt.Errorf("answer floppy: %d bytes do not fit on a 1.44 MB floppy", len(answer))
	}
	img := make([]byte, floppySectors*512)
	b := img[:512]
	copy(b, []byte{0xEB, 0x3C, 0x90})
	copy(b[3:11], "DESKVM  ")
	binary.LittleEndian.PutUint16(b[11:], 512)            // bytes per sector
	b[13] = 1                                             // sectors per cluster
	binary.LittleEndian.PutUint16(b[14:], 1)              // reserved sectors
	b[16] = 2                                             // FATs
	binary.LittleEndian.PutUint16(b[17:], floppyRootEnts) // root entries
	binary.LittleEndian.PutUint16(b[19:], floppySectors)
	b[21] = 0xF0 // media descriptor
	binary.LittleEndian.PutUint16(b[22:], floppyFATSecs)
	binary.LittleEndian.PutUint16(b[24:], 18) // sectors per track
	binary.LittleEndian.PutUint16(b[26:], 2)  // heads
	b[38] = 0x29                              // extended boot signature
	binary.LittleEndian.PutUint32(b[39:], 0x0DE5C0DE)
	copy(b[43:54], fmt.Sprintf("%-11s", MediaLabel))
	copy(b[54:62], "FAT12   ")
	b[510], b[511] = 0x55, 0xAA

	fat := make([]byte, floppyFATSecs*512)
	setFAT12(fat, 0, 0xFF0)
	setFAT12(fat, 1, 0xFFF)
	for i := 0; i < clusters; i++ {
		next := uint16(i + 3)
		if i == clusters-1 {
			next = 0xFFF
		}
		setFAT12(fat, i+2, next)
	}
	copy(img[512:], fat)
	copy(img[(1+floppyFATSecs)*512:], fat)

	root := img[(1+2*floppyFATSecs)*512:]
	label := root[0:32]
	copy(label[0:11], fmt.Sprintf("%-11s", MediaLabel))
	label[11] = 0x08
	short := []byte("AUTOUN~1XML")
	lfn := lfnEntries(FileName, short)
	copy(root[32:], lfn)
	e := root[32+len(lfn) : 32+len(lfn)+32]
	copy(e[0:11], short)
	e[11] = 0x20 // archive
	first := uint16(2)
	if clusters == 0 {
		first = 0
	}
	binary.LittleEndian.PutUint16(e[26:], first)
	binary.LittleEndian.PutUint32(e[28:], uint32(len(answer)))
	copy(img[floppyFirstData*512:], answer)
	return img, nil
}

func setFAT12(fat []byte, cluster int, v uint16) {
	off := cluster * 3 / 2
	if cluster%2 == 0 {
		fat[off] = byte(v)
		fat[off+1] = fat[off+1]&0xF0 | byte(v>>8)&0x0F
	} else {
		fat[off] = fat[off]&0x0F | byte(v<<4)
		fat[off+1] = byte(v >> 4)
	}
}

// lfnEntries are the VFAT long-name entries for name, last part first.
func lfnEntries(name string, short []byte) []byte {
	var sum byte
	for _, c := range short {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	u := utf16.Encode([]rune(name))
	n := (len(u) + 12) / 13
	chars := make([]uint16, n*13)
	for i := range chars {
		switch {
		case i < len(u):
			chars[i] = u[i]
		case i == len(u):
			chars[i] = 0
		default:
			chars[i] = 0xFFFF
		}
	}
	out := make([]byte, 0, n*32)
	for seq := n; seq >= 1; seq-- {
		e := make([]byte, 32)
		e[0] = byte(seq)
		if seq == n {
			e[0] |= 0x40
		}
		e[11], e[13] = 0x0F, sum
		part := chars[(seq-1)*13 : seq*13]
		for i, c := range part {
			var off int
			switch {
			case i < 5:
				off = 1 + 2*i
			case i < 11:
				off = 14 + 2*(i-5)
			default:
				off = 28 + 2*(i-11)
			}
			binary.LittleEndian.PutUint16(e[off:], c)
		}
		out = append(out, e...)
	}
	return out
}
