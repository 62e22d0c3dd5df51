package ocr

import "unicode/utf8"

// Two more ways a phrase is found when a line has no match as read: in a
// path whose components are one word on the screen, and across the
// wrap of a paragraph.

// findMore looks for a phrase query on line li that findIn did not find
// in words: among the path components of the words, then running on
// into the lines the line wraps to.
func findMore(res *Result, li int, words []Word, q Query) []Match {
	if q.Regex != nil || q.Contains {
		return nil
	}
	if split, ok := splitPaths(words); ok {
		if ms := findIn(li, split, q); len(ms) > 0 {
			return ms
		}
	}
	return findWrapped(res, li, words, q)
}

// splitPaths cuts words at an inner '/' into their components, each
// after the first keeping its '/', with boxes shared out by characters:
// "Fv(7CB8…)/FvFile(462C…)" is found by "Fv(7CB8…)", "/dev/vda1" by
// "vda1". A query with a '/' still matches the components in a row (a
// query word's inner punctuation may come out as a word break).
func splitPaths(ws []Word) ([]Word, bool) {
	var out []Word
	split := false
	for _, w := range ws {
		parts := pathParts(w.Text)
		if len(parts) < 2 {
			out = append(out, w)
			continue
		}
		split = true
		n, at := utf8.RuneCountInString(w.Text), 0
		for _, p := range parts {
			c := utf8.RuneCountInString(p)
			b := w.BBox
			b.Min.X = w.BBox.Min.X + w.BBox.Dx()*at/n
			b.Max.X = w.BBox.Min.X + w.BBox.Dx()*(at+c)/n
			out = append(out, Word{Text: p, Confidence: w.Confidence, BBox: b})
			at += c
		}
	}
	return out, split
}

// pathParts splits s before each '/' that has a character other than
// '/' on both sides.
func pathParts(s string) []string {
	var parts []string
	start := 0
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '/' && s[i-1] != '/' && s[i+1] != '/' {
			parts = append(parts, s[start:i])
			start = i
		}
	}
	return append(parts, s[start:])
}

// maxWrap is how many lines a wrapped phrase may run over.
const maxWrap = 3

// findWrapped finds a phrase that starts on line li and runs on into the
// line its text wraps to: the nearest line below, starting at the same
// x (within half a line height) and no further below than half a line
// height of gap, as wrapped help text and dialog paragraphs are.
func findWrapped(res *Result, li int, words []Word, q Query) []Match {
	if len(words) == 0 {
		return nil
	}
	all := append([]Word(nil), words...)
	cur := res.Lines[li]
	var out []Match
	for n := 1; n < maxWrap; n++ {
		next := wrapsTo(res, cur)
		if next < 0 {
			break
		}
		nw := res.Lines[next].Words
		if q.Region != nil {
			nw = wordsIn(nw, *q.Region)
		}
		all = append(all, nw...)
		for _, m := range findIn(li, all, q) {
			// Only matches that begin on line li and reach the line just
			// added: the others are found on their own lines.
			if m.BBox.Min.Y >= res.Lines[li].BBox.Max.Y || m.BBox.Max.Y <= res.Lines[next].BBox.Min.Y {
				continue
			}
			out = append(out, m)
		}
		if len(out) > 0 {
			return out
		}
		cur = res.Lines[next]
	}
	return nil
}

// wrapsTo returns the index of the line that l's text wraps to, or -1.
func wrapsTo(res *Result, l Line) int {
	h := l.BBox.Dy()
	best, bestY := -1, 0
	for i, o := range res.Lines {
		if len(o.Words) == 0 || o.BBox.Min.Y < l.BBox.Max.Y || o.BBox.Min.Y-l.BBox.Max.Y > h/2+2 {
			continue
		}
		if abs(o.BBox.Min.X-l.BBox.Min.X) > h/2 || abs(o.BBox.Dy()-h) > h/2 {
			continue
		}
		if best < 0 || o.BBox.Min.Y < bestY {
			best, bestY = i, o.BBox.Min.Y
		}
	}
	return best
}
