package ocr

import (
	"image"
	"strings"
	"testing"
)

func TestParseTSV(t *testing.T) {
	in := strings.Join([]string{
		"level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
		"1\t1\t0\t0\t0\t0\t0\t0\t200\t40\t-1\t",
		"2\t1\t1\t0\t0\t0\t7\t13\t108\t15\t-1\t",
		"4\t1\t1\t1\t1\t0\t7\t13\t108\t15\t-1\t",
		"5\t1\t1\t1\t1\t1\t7\t13\t48\t15\t96.5\tHello",
		"5\t1\t1\t1\t1\t2\t63\t13\t52\t15\t-1\tworld",
		"5\t1\t1\t1\t1\t3\t120\t13\t5\t15\t95\t ",    // blank word
		"5\t1\t1\t1\t1\t4\t130\t13\t5\t15\t95",       // no text column
		"5\t1\t2\t1\t1\t1\t10\t50\t20\t10\t80\ta\tb", // tab inside text
		"garbage",
		"",
	}, "\n")
	got, err := parseTSV([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []tsvWord{
		{block: 1, par: 1, line: 1, text: "Hello", conf: 0.965, box: image.Rect(7, 13, 55, 28)},
		{block: 1, par: 1, line: 1, text: "world", conf: 0, box: image.Rect(63, 13, 115, 28)},
		{block: 2, par: 1, line: 1, text: "a\tb", conf: 0.8, box: image.Rect(10, 50, 30, 60)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d words %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.block != w.block || g.par != w.par || g.line != w.line || g.text != w.text || g.box != w.box || abs(int(g.conf*1000)-int(w.conf*1000)) > 1 {
			t.Errorf("word %d: got %+v, want %+v", i, g, w)
		}
	}
}

func TestParseTSVBadNumber(t *testing.T) {
	_, err := parseTSV([]byte("level\n5\t1\t1\t1\t1\t1\tx\t13\t48\t15\t96\tHello\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("want an error naming line 2, got %v", err)
	}
	_, err = parseTSV([]byte("5\t1\t1\t1\t1\t1\t1\t13\t48\t15\tzz\tHello\n"))
	if err == nil || !strings.Contains(err.Error(), "confidence") {
		t.Fatalf("want a confidence error, got %v", err)
	}
}
