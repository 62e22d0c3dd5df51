package macos

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestCheckUDIF(t *testing.T) {
	dmg := makeDMG(50_000)
	tr, err := CheckUDIF(bytes.NewReader(dmg), int64(len(dmg)))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Version != 4 || tr.DataForkLength != 50_000 || tr.SectorCount != 98 {
		t.Errorf("%+v", tr)
	}
	mut := func(f func([]byte)) []byte { b := append([]byte{}, dmg...); f(b[len(b)-kolySize:]); return b }
	cases := map[string]struct {
		data []byte
		want string
	}{
		"truncated":     {dmg[:len(dmg)-100], "no koly trailer"},
		"tiny":          {dmg[:100], "shorter than"},
		"version":       {mut(func(k []byte) { binary.BigEndian.PutUint32(k[4:], 3) }), "version 3"},
		"fork past end": {mut(func(k []byte) { binary.BigEndian.PutUint64(k[0x20:], 1<<40) }), "data fork"},
		"xml past end":  {mut(func(k []byte) { binary.BigEndian.PutUint64(k[0xD8:], 1<<63) }), "XML property list"},
		"no xml":        {mut(func(k []byte) { binary.BigEndian.PutUint64(k[0xE0:], 0) }), "no XML property list"},
		"not plist":     {mut(func(k []byte) { binary.BigEndian.PutUint64(k[0xD8:], 0) }), "not a property list"},
		"no sectors":    {mut(func(k []byte) { binary.BigEndian.PutUint64(k[0x1EC:], 0) }), "sector count is 0"},
		"segmented":     {mut(func(k []byte) { binary.BigEndian.PutUint32(k[0x3C:], 3) }), "segmented"},
	}
	for name, c := range cases {
		_, err := CheckUDIF(bytes.NewReader(c.data), int64(len(c.data)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func FuzzUDIF(f *testing.F) {
	f.Add(makeDMG(3000))
	f.Add(makeDMG(0))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := CheckUDIF(bytes.NewReader(data), int64(len(data)))
		if err == nil && (tr.XMLOffset+tr.XMLLength > uint64(len(data)) || tr.DataForkOffset+tr.DataForkLength > uint64(len(data))) {
			t.Fatalf("accepted offsets past the end: %+v", tr)
		}
	})
}
