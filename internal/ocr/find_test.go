package ocr

import (
	"image"
	"regexp"
	"strings"
	"testing"
)

// lineOf builds a Line at row y from words 10 px high, 8 px per character
// and one space between words.
func lineOf(y int, x int, text string) Line {
	var ws []Word
	for _, f := range strings.Fields(text) {
		w := 8 * len(f)
		ws = append(ws, Word{Text: f, Confidence: 0.9, BBox: image.Rect(x, y, x+w, y+10)})
		x += w + 8
	}
	return newLine(ws)
}

func result(lines ...Line) *Result { return &Result{Lines: lines} }

func TestFindPhrase(t *testing.T) {
	res := result(
		lineOf(0, 0, "Choose the language to be used for the installation process."),
		lineOf(20, 0, "<Go Back>"),
		lineOf(20, 600, "<Continue>"),
		lineOf(40, 0, "Detect network hardware"),
		lineOf(60, 0, "during the network hardware detection step"),
		lineOf(80, 0, "deskvm 42 ok"),
		lineOf(100, 0, "The hostname is the host name of the system"),
		lineOf(120, 0, "Contlnue with the Instal1ation"),
		lineOf(140, 0, "Execute ashell"),
		lineOf(160, 0, "Chinese (Simplified) - 中文(简体)"),
	)
	cases := []struct {
		q     string
		fuzzy bool
		want  []string // matched texts in order
	}{
		{"Continue", true, []string{"<Continue>", "Contlnue"}},
		{"Continue", false, []string{"<Continue>"}},
		{"continue.", false, []string{"<Continue>"}},
		{"go back", true, []string{"<Go Back>"}},
		{"Go Back", false, []string{"<Go Back>"}},
		{"installation process", true, []string{"installation process."}},
		{"Install", true, nil}, // whole words: not "installation"
		{"Detect network hardware", true, []string{"Detect network hardware"}},
		{"network hardware detect", true, nil}, // "detection" is another word
		{"deskvm 42 ok", true, []string{"deskvm 42 ok"}},
		{"deskvm 43 ok", true, nil}, // digits never fuzzy
		{"Hostname", true, []string{"hostname"}},
		{"host name", true, []string{"hostname", "host name"}}, // run together is a slip OCR makes
		{"Execute a shell", true, []string{"Execute ashell"}},  // run-together words
		{"Chinese (Simplified)", false, []string{"Chinese (Simplified)"}},
		{"Simplified Chinese", true, nil},
		{"the", false, []string{"the", "the", "the", "The", "the", "the", "the"}},
	}
	for _, c := range cases {
		ms := Find(res, Query{Text: c.q, Fuzzy: c.fuzzy})
		var got []string
		for _, m := range ms {
			got = append(got, m.Text)
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("Find(%q, fuzzy=%v) = %q, want %q", c.q, c.fuzzy, got, c.want)
		}
	}
}

func TestFindFuzzyThreshold(t *testing.T) {
	cases := []struct {
		want, got string
		ok        bool
	}{
		{"continue", "contlnue", true},  // 1 slip in 8 letters
		{"continue", "c0ntlnue", true},  // 2 slips in 8 letters
		{"continue", "c0nt1nuo", false}, // 3 slips
		{"back", "baek", true},          // 1 slip in 4 letters
		{"back", "bxek", false},         // 2 slips in 4 letters
		{"go", "gu", false},             // not a confusion
		{"ok", "0k", true},              // O and zero
		{"http", "https", false},        // a letter more
		{"http", "htip", true},          // T and I
		{"sata", "pata", false},         // one letter off
		{"manager", "manger", false},    // a letter less
		{"network", "netwerk", false},   // one letter off
		{"hostname", "hostnarne", true}, // rn and m
		{"vda1", "vdal", true},          // one and l
		{"vda2", "vda1", false},         // one digit off
		{"52:54:00:12:34:56", "52:54:00 12:34:56", true},
		{"52:54:00:12:34:56", "52:54:00 12:34:57", false},
		{"x86_64", "x86 64", true},
		{"x86_64", "x8664", true},
		{"x86_64", "x86 65", false},
		{"d)efault", "default", true},  // a lost bracket ("(d)efault" read as "(default")
		{"d)efault", "defaulf", false}, // and a letter off
		{"pci(0x1f", "pci0x1f", true},  // lost bracket
		{"pci(0x1f", "pci0x1e", false}, // a digit off
		{"(e)dit", "(exit", false},     // a letter off
		{"install", "installs", false}, // letters added at the end
		{"detect", "detection", false}, // a longer word
		{"language", "languagc", true},
		{"v2.2", "v2.3", false},        // digits are exact
		{"cdrom0", "cdrom@", true},     // a dotted zero
		{"cdrom0", "cdroma", false},    // not any letter
		{"dev/vda2", "devjvda2", true}, // a slanted slash
		{"dev/vda2", "devfvda2", true},
		{"dev/vda2", "devxvda2", false},
		{"dev/vda2", "devjvda3", false},
		{"254:0", "25430", true}, // a colon of X11's fixed font
		{"254:0", "25431", false},
		{"254:0", "25330", false},
	}
	for _, c := range cases {
		d := wordDistance(c.want, c.got, true)
		if (d >= 0) != c.ok {
			t.Errorf("wordDistance(%q, %q) = %d, want match=%v", c.want, c.got, d, c.ok)
		}
	}
	// Phrase budget: 30% of the phrase's characters; transposed and
	// missing letters are never tolerated.
	res := result(lineOf(0, 0, "Plaese entr the hostnarne"))
	if ms := Find(res, Query{Text: "Please enter the hostname", Fuzzy: true}); len(ms) != 0 {
		t.Errorf("4 slips in 22 letters matched: %+v", ms)
	}
	res = result(lineOf(0, 0, "Please entcr the hostnarne"))
	ms := Find(res, Query{Text: "Please enter the hostname", Fuzzy: true})
	if len(ms) != 1 || ms[0].Score >= 1 || ms[0].Score < 0.8 {
		t.Errorf("2 slips in 22 letters: %+v", ms)
	}
}

func TestFindMatchGeometry(t *testing.T) {
	res := result(lineOf(20, 100, "Please <Go Back> now"))
	ms := Find(res, Query{Text: "go back", Fuzzy: true})
	if len(ms) != 1 {
		t.Fatalf("want 1 match, got %+v", ms)
	}
	m := ms[0]
	// "Please" is 48 px + 8 space: "<Go" starts at 156, "Back>" ends at 156+24+8+40.
	if want := image.Rect(156, 20, 228, 30); m.BBox != want {
		t.Errorf("bbox %v, want %v", m.BBox, want)
	}
	if want := image.Pt(192, 25); m.Point != want {
		t.Errorf("point %v, want %v", m.Point, want)
	}
	if m.Line != 0 || m.Score != 1 {
		t.Errorf("line %d score %v", m.Line, m.Score)
	}
}

func TestFindRegexContainsRegionCase(t *testing.T) {
	res := result(
		lineOf(0, 0, "Booting from Hard Disk..."),
		lineOf(20, 0, "Booting from Floppy..."),
		lineOf(40, 0, "No bootable device."),
		lineOf(40, 400, "BOOT menu"),
	)
	ms := Find(res, Query{Regex: regexp.MustCompile(`Booting from (\w+)`)})
	if len(ms) != 2 || ms[0].Text != "Booting from Hard" || ms[1].Text != "Booting from Floppy..." {
		t.Errorf("regex: %+v", ms)
	}
	if ms[0].Line != 0 || ms[1].Line != 1 {
		t.Errorf("regex lines: %d %d", ms[0].Line, ms[1].Line)
	}
	ms = Find(res, Query{Text: "boot", Contains: true})
	if len(ms) != 4 {
		t.Errorf("contains boot: want 4 (Booting, Booting, bootable, BOOT), got %+v", ms)
	}
	ms = Find(res, Query{Text: "boot", Contains: true, CaseSensitive: true})
	if len(ms) != 1 || ms[0].Text != "bootable" {
		t.Errorf("contains boot, case-sensitive: want bootable, got %+v", ms)
	}
	ms = Find(res, Query{Text: "boot", Fuzzy: true})
	if len(ms) != 1 || ms[0].Text != "BOOT" {
		t.Errorf("whole word boot: %+v", ms)
	}
	ms = Find(res, Query{Text: "BOOT", Fuzzy: true, CaseSensitive: true})
	if len(ms) != 1 {
		t.Errorf("case-sensitive BOOT: %+v", ms)
	}
	if ms = Find(res, Query{Text: "Boot", CaseSensitive: true}); len(ms) != 0 {
		t.Errorf("case-sensitive Boot: %+v", ms)
	}
	r := image.Rect(0, 15, 300, 60)
	ms = Find(res, Query{Text: "booting from", Region: &r})
	if len(ms) != 1 || ms[0].Line != 1 {
		t.Errorf("region: %+v", ms)
	}
	r = image.Rect(0, 0, 60, 100) // only the first word of each line
	if ms = Find(res, Query{Text: "booting from", Region: &r}); len(ms) != 0 {
		t.Errorf("region cutting the phrase: %+v", ms)
	}
}

func TestFindReadingOrderAndText(t *testing.T) {
	lines := []Line{
		lineOf(100, 0, "third"),
		lineOf(52, 300, "second right"),
		lineOf(50, 0, "second left"),
		lineOf(0, 0, "first"),
	}
	sortReadingOrder(lines)
	res := &Result{Lines: lines}
	if got, want := res.Text(), "first\nsecond left\nsecond right\nthird\n"; got != want {
		t.Errorf("Text() = %q, want %q", got, want)
	}
	ms := Find(res, Query{Text: "second", Fuzzy: true})
	if len(ms) != 2 || ms[0].Point.X > ms[1].Point.X {
		t.Errorf("matches not in reading order: %+v", ms)
	}
	var nilRes *Result
	if nilRes.Text() != "" || Find(nilRes, Query{Text: "x"}) != nil {
		t.Error("nil result")
	}
}

// TestFindConfusionsOnly: identifiers split by OCR at their punctuation
// are found, a phrase one letter or digit off is not, and a bracket read
// for a capital I counts as one slip.
func TestFindConfusionsOnly(t *testing.T) {
	res := result(
		lineOf(0, 0, "MAC address: 52:54:00: 12:34:56"),
		lineOf(20, 0, "Boot Manager"),
		lineOf(40, 0, "[nteractive shell"),
		lineOf(60, 0, "Root partition: /dev/vdal (ext4, x86 64)"),
		lineOf(80, 0, "rwconsole"),
	)
	cases := []struct {
		q    string
		want bool
	}{
		{"52:54:00:12:34:56", true},
		{"52:54:00:12:34:57", false},
		{"Boot Manager", true},
		{"Boot Manger", false},
		{"Boot Managers", false},
		{"Interactive shell", true},
		{"/dev/vda1", true},
		{"/dev/vda2", false},
		{"/dev/vdb1", false},
		{"x86_64", true},
		{"console", false}, // only whole query words run together
	}
	for _, c := range cases {
		if got := len(Find(res, Query{Text: c.q, Fuzzy: true})) > 0; got != c.want {
			t.Errorf("Find(%q) found=%v, want %v", c.q, got, c.want)
		}
	}
}

// TestFindAlternativeReading: a phrase missing from a line's first
// reading is found in its second one, at the line's index.
func TestFindAlternativeReading(t *testing.T) {
	l := lineOf(0, 0, "Mammal network setup")
	l.alts = []Line{lineOf(0, 0, "Manual network setup")}
	res := result(lineOf(20, 0, "other"), l)
	sortReadingOrder(res.Lines)
	ms := Find(res, Query{Text: "Manual network setup", Fuzzy: true})
	if len(ms) != 1 || ms[0].Line != 0 || ms[0].Text != "Manual network setup" {
		t.Fatalf("alternative reading: %+v", ms)
	}
	if ms := Find(res, Query{Text: "Manuel network setup", Fuzzy: true}); len(ms) != 0 {
		t.Errorf("one letter off found in the alternative: %+v", ms)
	}
}

// TestFindSlashAndZeroSlips: the slanted slash of a sans-serif screen
// font read as j, f or i (also as a word's first character, where the
// slash of the query is punctuation), and the dotted or slashed zero of
// a monospace font read as "@" (also at a word's end and alone). One
// digit or letter off is still not found.
func TestFindSlashAndZeroSlips(t *testing.T) {
	res := result(
		lineOf(0, 0, "/devjvda2 30.5G"),
		lineOf(20, 0, "fdev/sdal 64G"),
		lineOf(40, 0, "/media/cdrom@ udf,iso9660 user,noauto"),
		lineOf(60, 0, "vfat umask=0077 @ 1"),
		lineOf(80, 0, "root@deskvm:~# ssh user@"),
		lineOf(100, 0, "ietc/fstab: static"),
	)
	cases := []struct {
		q    string
		want bool
	}{
		{"/dev/vda2", true},
		{"/dev/vda3", false},
		{"/dev/vdb2", false},
		{"/dev/sda1", true},  // f for the leading slash, l for one
		{"/dev/sda2", false}, // a digit off
		{"dev/sda1", false},  // no slash in the query: the f is a letter more
		{"/media/cdrom0", true},
		{"/media/cdrom1", false},
		{"umask=0077 0 1", true},
		{"umask=0077 8 1", false},
		{"umask=0077 0 0", false},
		{"root@deskvm", true},
		{"user", true}, // the plain reading still counts
		{"/etc/fstab:", true},
		{"/etc/fstab: static", true},
		{"/etc/fstat: static", false},
		{"etc/fstab", false},
	}
	for _, c := range cases {
		if got := len(Find(res, Query{Text: c.q, Fuzzy: true})) > 0; got != c.want {
			t.Errorf("Find(%q) found=%v, want %v", c.q, got, c.want)
		}
	}
	// Without fuzzy matching none of these slips counts.
	for _, q := range []string{"/dev/vda2", "/media/cdrom0"} {
		if ms := Find(res, Query{Text: q}); len(ms) != 0 {
			t.Errorf("Find(%q) without fuzzy: %+v", q, ms)
		}
	}
}

// TestFindSplitIdentifiers: an address split by OCR at its colons, whose
// trimmed words lost the colons beside the spaces, is found; so is an
// address or value that is one part of a longer token ("10.0.2.15" in
// "10.0.2.15/24"), but only at the phrase's ends and only at "/", ","
// or "=".
func TestFindSplitIdentifiers(t *testing.T) {
	res := result(
		lineOf(0, 0, "inet6 fe80: :5054: ff: fel2:3456/64 scope link"),
		lineOf(20, 0, "inet 10.0.2.15/24 scope global eth0"),
		lineOf(40, 0, "udf,iso9660 user,noauto 0 0"),
		lineOf(60, 0, "DevPath - Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)/FvFile(462CAA21-7614-4503-836E-8AB6F4662331)"),
	)
	cases := []struct {
		q    string
		want bool
	}{
		{"fe80::5054:ff:fe12:3456/64", true},
		{"fe80::5054:ff:fe12:3457/64", false},
		{"fe80::5054:ff:fe13:3456/64", false},
		{"fe80::5055:ff:fe12:3456/64", false},
		{"10.0.2.15", true},
		{"inet 10.0.2.15", true},
		{"10.0.2.16", false},
		{"10.0.2.1", false},
		{"10.0.2", false},          // not at a dot
		{"10.0.2.15 scope", false}, // "/24" lies between
		{"24 scope global", true},
		{"iso9660 user", true},
		{"iso9661", false},
		{"noauto 0 0", true},
		{"Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)", true}, // a part's own brackets are its ends
		{"FvFile(462CAA21-7614-4503-836E-8AB6F4662331)", true},
		{"Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A2)", false},
	}
	for _, c := range cases {
		if got := len(Find(res, Query{Text: c.q, Fuzzy: true})) > 0; got != c.want {
			t.Errorf("Find(%q) found=%v, want %v", c.q, got, c.want)
		}
	}
	if ms := Find(res, Query{Text: "10.0.2.15"}); len(ms) != 0 {
		t.Errorf("part of a word without fuzzy: %+v", ms)
	}
}
