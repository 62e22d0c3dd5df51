package ocr

// findMore looks for a phrase query that starts on line li and that
// findIn did not find in words: running on into the lines the line
// wraps to.
func findMore(res *Result, li int, words []Word, q Query) []Match {
	if q.Regex != nil || q.Contains {
		return nil
	}
	return findWrapped(res, li, words, q)
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
			// Click where the phrase begins, not between its lines.
			m.Point = center(m.BBox.Intersect(res.Lines[li].BBox))
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
