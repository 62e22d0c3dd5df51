package wim

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/deskvm/deskvm/internal/testutil"
)

func readFile(t *testing.T, path string) *Info {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return info
}

// Editions of a WIM and of the LZMS solid ESD exported from it, both made
// by wimlib-imagex in the fixture, are read from the XML alone.
func TestFixtureWIMAndESD(t *testing.T) {
	m := testutil.WindowsMediaFixture(t)
	for _, c := range []struct {
		path, compression string
		solid             bool
	}{{m.InstallWIM, "LZX", false}, {m.InstallESD, "LZMS", true}} {
		info := readFile(t, c.path)
		if info.ImageCount != len(testutil.WindowsFixtureEditions) || info.Compression != c.compression || info.Solid != c.solid {
			t.Errorf("%s: count %d compression %s solid %v", c.path, info.ImageCount, info.Compression, info.Solid)
		}
		if len(info.Editions) != len(testutil.WindowsFixtureEditions) {
			t.Fatalf("%s: %d editions", c.path, len(info.Editions))
		}
		for i, want := range testutil.WindowsFixtureEditions {
			got := info.Editions[i]
			if got.Index != want.Index || got.Name != want.Name || got.DisplayName != want.Name || got.EditionID != want.EditionID ||
				got.Build != want.Build || got.Version != "10.0.26100.1742" || got.Architecture != "amd64" ||
				strings.Join(got.Languages, ",") != "en-US" {
				t.Errorf("%s: edition %d = %+v", c.path, i+1, got)
			}
		}
	}
}

func TestFind(t *testing.T) {
	eds := []Edition{{Index: 1, Name: "Windows 11 Home"}, {Index: 2, Name: "Windows 11 Pro", DisplayName: "Windows 11 Pro (display)"}}
	if e, err := Find(eds, "windows 11 pro"); err != nil || e.Index != 2 {
		t.Errorf("%+v %v", e, err)
	}
	if e, err := Find(eds, "Windows 11 Pro (display)"); err != nil || e.Index != 2 {
		t.Errorf("%+v %v", e, err)
	}
	_, err := Find(eds, "Windows 11 Enterprise")
	if err == nil || err.Error() != `edition "Windows 11 Enterprise" is not in the image; it has: 1 "Windows 11 Home", 2 "Windows 11 Pro"` {
		t.Errorf("%v", err)
	}
	if _, err := FindIndex(eds, 3); err == nil || !strings.Contains(err.Error(), `1 "Windows 11 Home"`) {
		t.Errorf("%v", err)
	}
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune("\ufeff" + s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// makeWIM is a header plus an XML resource, the smallest file Read accepts.
func makeWIM(xmlText string, count uint32) []byte {
	x := utf16le(xmlText)
	h := make([]byte, headerSize)
	copy(h, "MSWIM\x00\x00\x00")
	binary.LittleEndian.PutUint32(h[8:], headerSize)
	binary.LittleEndian.PutUint32(h[offImageCount:], count)
	binary.LittleEndian.PutUint64(h[offXMLResource:], uint64(len(x))) // 7 bytes + flags 0
	binary.LittleEndian.PutUint64(h[offXMLOffset:], headerSize)
	binary.LittleEndian.PutUint64(h[offXMLOrigSize:], uint64(len(x)))
	return append(h, x...)
}

func TestHostileHeaders(t *testing.T) {
	good := makeWIM(`<WIM><IMAGE INDEX="1"><NAME>A &amp; B</NAME></IMAGE></WIM>`, 1)
	if info, err := Read(bytes.NewReader(good), int64(len(good))); err != nil || info.Editions[0].Name != "A & B" {
		t.Fatalf("%+v %v", info, err)
	}
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string]struct {
		data []byte
		want string
	}{
		"short":      {good[:100], "shorter than the 208-byte header"},
		"magic":      {mut(func(b []byte) []byte { b[0] = 'X'; return b }), "not a WIM or ESD file"},
		"pipable":    {mut(func(b []byte) []byte { copy(b, "WLPWM"); return b }), "pipable"},
		"truncated":  {good[:len(good)-4], "truncated file"},
		"compressed": {mut(func(b []byte) []byte { b[0x4F] = 0x04; return b }), "stored compressed"},
		"huge xml": {mut(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[0x48:], 1<<40)
			binary.LittleEndian.PutUint64(b[0x58:], 1<<40)
			return b
		}), "limit"},
		"offset past end": {mut(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[0x50:], 1<<62); return b }), "past its end"},
		"sizes differ":    {mut(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[0x58:], 7); return b }), "sizes differ"},
		"count":           {mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[0x2C:], 1<<30); return b }), "images (limit"},
		"no images":       {makeWIM(`<WIM></WIM>`, 0), "lists no images"},
		"bad index":       {makeWIM(`<WIM><IMAGE INDEX="x"><NAME>A</NAME></IMAGE></WIM>`, 1), `INDEX "x"`},
		"dup index":       {makeWIM(`<WIM><IMAGE INDEX="1"/><IMAGE INDEX="1"/></WIM>`, 2), "appears twice"},
		"bad xml":         {makeWIM(`<WIM><IMAGE INDEX="1">`, 1), "XML metadata"},
	}
	for name, c := range cases {
		_, err := Read(bytes.NewReader(c.data), int64(len(c.data)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, c.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(makeWIM(`<WIM><IMAGE INDEX="1"><NAME>Windows 11 Pro</NAME><WINDOWS><ARCH>9</ARCH><VERSION><MAJOR>10</MAJOR><BUILD>26100</BUILD></VERSION></WINDOWS></IMAGE></WIM>`, 1))
	f.Add(makeWIM(`<WIM><IMAGE INDEX="2"><NAME>b</NAME></IMAGE><IMAGE INDEX="1"><NAME>a</NAME></IMAGE></WIM>`, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if len(info.Editions) == 0 {
			t.Fatal("no editions without an error")
		}
		for i := 1; i < len(info.Editions); i++ {
			if info.Editions[i].Index <= info.Editions[i-1].Index {
				t.Fatal("editions not sorted by unique index")
			}
		}
	})
}
