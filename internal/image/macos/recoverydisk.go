package macos

import (
	"fmt"
	"io"
	"os"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// RecoveryFolder is where OpenCore looks for a recovery image on any FAT
// volume it scans (macrecovery.py's default output directory).
const RecoveryFolder = "com.apple.recovery.boot"

// WriteRecoveryDisk writes the installer disk: a raw GPT disk with one
// FAT32 partition holding com.apple.recovery.boot/BaseSystem.dmg and
// BaseSystem.chunklist, which OpenCore offers as the macOS recovery to
// boot (and checks against the chunklist itself).
func WriteRecoveryDisk(path, dmg, chunklist string) (err error) {
	var total int64
	for _, f := range []string{dmg, chunklist} {
		st, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("recovery disk: %w", err)
		}
		total += st.Size()
	}
	const mib = 1 << 20
	// Room for FAT32's tables and clusters, at least the 64 MiB FAT32
	// needs to be FAT32 at all.
	size := ((total+total/16)/mib + 64) * mib
	tmp := path + ".tmp"
	os.Remove(tmp)
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	store, err := file.CreateFromPath(tmp, size)
	if err != nil {
		return fmt.Errorf("recovery disk: %w", err)
	}
	defer store.Close()
	w, err := store.Writable()
	if err != nil {
		return fmt.Errorf("recovery disk: %w", err)
	}
	const first = 2048 // sectors of 512 bytes
	last := uint64(size/512) - 34
	table := &gpt.Table{ProtectiveMBR: true, LogicalSectorSize: 512, PhysicalSectorSize: 512, Partitions: []*gpt.Partition{{
		Index: 1, Start: first, End: last, Type: gpt.MicrosoftBasicData, Name: "RECOVERY",
	}}}
	if err := table.Write(w, size); err != nil {
		return fmt.Errorf("recovery disk: partition: %w", err)
	}
	partSize := int64(last-first+1) * 512
	fsys, err := fat32.Create(store, partSize, first*512, 512, "RECOVERY", false)
	if err != nil {
		return fmt.Errorf("recovery disk: format: %w", err)
	}
	if err := fsys.Mkdir("/" + RecoveryFolder); err != nil {
		return fmt.Errorf("recovery disk: %w", err)
	}
	for name, src := range map[string]string{"BaseSystem.dmg": dmg, "BaseSystem.chunklist": chunklist} {
		if err := copyInto(fsys, "/"+RecoveryFolder+"/"+name, src); err != nil {
			return fmt.Errorf("recovery disk: %s: %w", name, err)
		}
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("recovery disk: %w", err)
	}
	return os.Rename(tmp, path)
}

func copyInto(fsys filesystem.FileSystem, dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := fsys.OpenFile(dst, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
