package fetch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// fetchPath names a local file by its digest. The digest is remembered by
// absolute path, size, mtime and inode, so an unchanged file is read once;
// a file that differs in any of them is hashed again.
func (f *Fetcher) fetchPath(ctx context.Context, c cache, name string, src Source) (Result, error) {
	abs, err := filepath.Abs(src.Path)
	if err != nil {
		return Result{}, fmt.Errorf("path %s: %w", src.Path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Result{}, err
	}
	if !fi.Mode().IsRegular() {
		return Result{}, fmt.Errorf("%s is not a regular file", abs)
	}
	now := pathRecord{Path: abs, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano(), Inode: inode(fi)}
	var rec pathRecord
	recPath := c.pathRecordPath(abs)
	known := readJSON(recPath, &rec) == nil && rec.Path == now.Path && rec.Size == now.Size &&
		rec.MtimeNs == now.MtimeNs && rec.Inode == now.Inode && rec.SHA256 != "" &&
		(src.SHA512 == "" || rec.SHA512 != "") && src.Verify == nil
	if known && (src.SHA256 == "" || rec.SHA256 == src.SHA256) && (src.SHA512 == "" || rec.SHA512 == src.SHA512) {
		return Result{Path: abs, SHA256: rec.SHA256, Size: rec.Size, Cached: true}, nil
	}
	// Not known, or known with a digest other than the pinned one: hash
	// it now (the file may have changed without a new mtime).
	var p *progress
	if name != "" {
		p = newProgress(f.Progress, name)
	}
	d, n, err := hashFile(ctx, abs, &src, p)
	if err != nil {
		return Result{}, err
	}
	now.SHA256, now.SHA512 = d.sum256(), d.sum512()
	if err := d.check(abs); err != nil {
		return Result{}, err
	}
	if n == now.Size {
		if err := writeJSON(recPath, now); err != nil {
			return Result{}, fmt.Errorf("cache: %w", err)
		}
	}
	return Result{Path: abs, SHA256: now.SHA256, Size: n}, nil
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
