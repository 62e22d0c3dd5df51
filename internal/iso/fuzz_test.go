package iso

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"sync"
	"testing"
)

// testdata/fuzzbase.iso.gz is a small UDF + ISO 9660 (Joliet, Rock Ridge)
// image made with
//
//	genisoimage -udf -J -R -V FUZZ -o base.iso t
//
// of a tree with README.TXT, sources/install.wim and efi/boot/bootx64.efi.
// The fuzzer mutates the first 512 bytes of each metadata sector (volume
// descriptors, UDF anchor and descriptor sequence, file entries,
// directories) laid over that image, so its inputs stay small.
var fuzzBase struct {
	once    sync.Once
	image   []byte
	sectors []int
}

const fuzzSlice = 512

func loadFuzzBase(t testing.TB) ([]byte, []int) {
	fuzzBase.once.Do(func() {
		f, err := os.Open("testdata/fuzzbase.iso.gz")
		if err != nil {
			return
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			return
		}
		img, err := io.ReadAll(z)
		if err != nil {
			return
		}
		fuzzBase.image = img
		for s := 16; s < 290 && (s+1)*sectorSize <= len(img); s++ {
			if bytes.ContainsFunc(img[s*sectorSize:(s+1)*sectorSize], func(r rune) bool { return r != 0 }) {
				fuzzBase.sectors = append(fuzzBase.sectors, s)
			}
		}
	})
	if fuzzBase.image == nil {
		t.Fatal("cannot read testdata/fuzzbase.iso.gz")
	}
	return fuzzBase.image, fuzzBase.sectors
}

func fuzzSeed(img []byte, sectors []int) []byte {
	var seed []byte
	for _, s := range sectors {
		seed = append(seed, img[s*sectorSize:s*sectorSize+fuzzSlice]...)
	}
	return seed
}

// exercise walks an image the way validate-iso does, plus a listing.
func exercise(im *Image) {
	for _, p := range []string{"sources/install.wim", "sources/install.esd", "efi/boot/bootx64.efi", "boot/etfsboot.com", "README.TXT"} {
		if f, err := im.Open(p); err == nil {
			b := make([]byte, 4096)
			f.ReadAt(b, 0)
			f.ReadAt(b, f.Size()-1)
		}
	}
	// A directory may hold itself (a hostile image): bound the walk by
	// the number of listings, not only by depth.
	budget := 30
	var list func(p string, depth int)
	list = func(p string, depth int) {
		if depth > 3 || budget == 0 {
			return
		}
		budget--
		es, err := im.ReadDir(p)
		if err != nil {
			return
		}
		for i, e := range es {
			if i > 20 {
				break
			}
			if e.IsDir {
				list(p+"/"+e.Name, depth+1)
			}
		}
	}
	list("/", 0)
}

func TestFuzzBaseReads(t *testing.T) {
	img, sectors := loadFuzzBase(t)
	if len(sectors) < 20 {
		t.Fatalf("only %d metadata sectors", len(sectors))
	}
	im, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := im.Stat("SOURCES/INSTALL.WIM"); err != nil || st.Size != 4 || st.Filesystem != "UDF" {
		t.Fatalf("%+v %v", st, err)
	}
}

func FuzzImage(f *testing.F) {
	img, sectors := loadFuzzBase(f)
	f.Add(fuzzSeed(img, sectors))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		buf := append([]byte(nil), img...)
		for i, s := range sectors {
			dst := buf[s*sectorSize : s*sectorSize+fuzzSlice]
			clear(dst)
			if i*fuzzSlice < len(data) {
				copy(dst, data[i*fuzzSlice:])
			}
		}
		im, err := Open(bytes.NewReader(buf), int64(len(buf)))
		if err != nil {
			return
		}
		exercise(im)
	})
}

// FuzzRaw feeds raw bytes as a whole (small) image.
func FuzzRaw(f *testing.F) {
	img, _ := loadFuzzBase(f)
	f.Add(img[:40*sectorSize])
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		exercise(im)
	})
}
