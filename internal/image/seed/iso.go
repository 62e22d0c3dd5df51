package seed

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// VolumeLabel is the label cloud-init's NoCloud datasource looks for.
const VolumeLabel = "cidata"

// Files returns the seed's files by name: user-data, meta-data and
// network-config.
func Files(a Args) (map[string][]byte, error) {
	ud, err := UserData(a)
	if err != nil {
		return nil, err
	}
	md, err := MetaData(a)
	if err != nil {
		return nil, err
	}
	nc, err := NetworkConfig(a)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"user-data": ud, "meta-data": md, "network-config": nc}, nil
}

// WriteISO writes the seed as an ISO 9660 image with Rock Ridge names and
// the volume label "cidata" to path (mode 0600: the user-data can hold
// host private keys). The file appears complete or not at all; an
// existing file at path is replaced.
func WriteISO(path string, a Args) error {
	files, err := Files(a)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("seed iso: %w", err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	// go-diskfs stages the files in a workspace before Finalize lays them out.
	work, err := os.MkdirTemp("", "deskvm-seed-")
	if err != nil {
		return fmt.Errorf("seed iso: %w", err)
	}
	defer os.RemoveAll(work)

	fs, err := iso9660.Create(file.New(tmp, false), 0, 0, 0, work)
	if err != nil {
		return fmt.Errorf("seed iso %s: %w", path, err)
	}
	for _, name := range []string{"meta-data", "network-config", "user-data"} {
		f, err := fs.OpenFile("/"+name, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return fmt.Errorf("seed iso %s: %s: %w", path, name, err)
		}
		if _, err := f.Write(files[name]); err != nil {
			return fmt.Errorf("seed iso %s: %s: %w", path, name, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("seed iso %s: %s: %w", path, name, err)
		}
	}
	if err := fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, Joliet: true, VolumeIdentifier: VolumeLabel}); err != nil {
		return fmt.Errorf("seed iso %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("seed iso %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("seed iso %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("seed iso %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("seed iso: %w", err)
	}
	ok = true
	return nil
}
