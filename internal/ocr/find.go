package ocr

import (
	"image"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Query says what to look for in a Result.
type Query struct {
	// Text is a phrase: one or more words that must appear next to each
	// other, in this order, on one line, as whole words. Punctuation at
	// the ends of words is ignored on both sides ("Continue" finds
	// "<Continue>" and "continue.").
	Text string
	// Regex, when set, is matched against each line's Text instead.
	Regex *regexp.Regexp
	// Contains matches Text as a substring of a line's text (no whole
	// words, no fuzziness).
	Contains bool
	// Fuzzy tolerates OCR slips within words; see Find. Callers that
	// expose a setting default it to true.
	Fuzzy bool
	// Region, when set, only considers words whose centre lies inside it.
	Region *image.Rectangle
	// CaseSensitive compares letter case too.
	CaseSensitive bool
}

// Match is one place where a query matched.
type Match struct {
	Text  string          // the matched words as read
	Line  int             // index into Result.Lines
	BBox  image.Rectangle // union of the matched words' boxes
	Point image.Point     // where to click: the centre of BBox
	Score float64         // 1 for an exact match, lower with each slip
}

// Find returns every match of q in res, in reading order.
//
// Fuzzy matching compares each query word with one recognised word by
// edit distance (Levenshtein) and allows:
//   - no slip in words of up to 3 characters or containing a digit;
//   - 1 slip in words of 4–7 characters, 2 in longer ones;
//   - never a word that only adds or drops letters at its end
//     ("detect" does not match "detection", "Install" not "Installs");
//   - at most 15% of the phrase's characters in all.
//
// Words are never merged or split, so "Hostname" does not match
// "host name".
func Find(res *Result, q Query) []Match {
	if res == nil {
		return nil
	}
	var out []Match
	for li, line := range res.Lines {
		words := line.Words
		if q.Region != nil {
			words = wordsIn(words, *q.Region)
		}
		if len(words) == 0 {
			continue
		}
		switch {
		case q.Regex != nil:
			out = append(out, findRegex(li, words, q)...)
		case q.Contains:
			out = append(out, findContains(li, words, q)...)
		default:
			out = append(out, findPhrase(li, words, q)...)
		}
	}
	return out
}

func wordsIn(ws []Word, r image.Rectangle) []Word {
	var out []Word
	for _, w := range ws {
		c := center(w.BBox)
		if c.In(r) {
			out = append(out, w)
		}
	}
	return out
}

func center(r image.Rectangle) image.Point {
	return image.Pt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2)
}

func newMatch(li int, ws []Word, score float64) Match {
	m := Match{Line: li, Score: score}
	texts := make([]string, len(ws))
	for i, w := range ws {
		texts[i] = w.Text
		if i == 0 {
			m.BBox = w.BBox
		} else {
			m.BBox = m.BBox.Union(w.BBox)
		}
	}
	m.Text = strings.Join(texts, " ")
	m.Point = center(m.BBox)
	return m
}

// joined is a line's words joined by single spaces, with the byte offset
// where each word starts, so a span of the text maps back to words.
func joined(ws []Word) (string, []int) {
	var b strings.Builder
	starts := make([]int, len(ws))
	for i, w := range ws {
		if i > 0 {
			b.WriteByte(' ')
		}
		starts[i] = b.Len()
		b.WriteString(w.Text)
	}
	return b.String(), starts
}

// spanWords returns the words overlapping bytes [a,b) of the joined text.
func spanWords(ws []Word, starts []int, a, b int) []Word {
	var out []Word
	for i, w := range ws {
		s, e := starts[i], starts[i]+len(w.Text)
		if s < b && a < e {
			out = append(out, w)
		}
	}
	return out
}

func findRegex(li int, ws []Word, q Query) []Match {
	text, starts := joined(ws)
	var out []Match
	for _, loc := range q.Regex.FindAllStringIndex(text, -1) {
		a, b := loc[0], loc[1]
		if a == b {
			continue
		}
		if sel := spanWords(ws, starts, a, b); len(sel) > 0 {
			out = append(out, newMatch(li, sel, 1))
		}
	}
	return out
}

func findContains(li int, ws []Word, q Query) []Match {
	orig, starts := joined(ws)
	text, needle := orig, q.Text
	if !q.CaseSensitive {
		text, needle = strings.ToLower(orig), strings.ToLower(needle)
	}
	if needle == "" {
		return nil
	}
	if len(text) != len(orig) {
		// Case folding changed byte lengths: offsets no longer map to
		// words, so the whole line is the match.
		if strings.Contains(text, needle) {
			return []Match{newMatch(li, ws, 1)}
		}
		return nil
	}
	var out []Match
	for off := 0; ; {
		i := strings.Index(text[off:], needle)
		if i < 0 {
			break
		}
		a := off + i
		if sel := spanWords(ws, starts, a, a+len(needle)); len(sel) > 0 {
			out = append(out, newMatch(li, sel, 1))
		}
		off = a + len(needle)
	}
	return out
}

// normWord strips punctuation from both ends and folds case.
func normWord(s string, caseSensitive bool) string {
	s = strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if !caseSensitive {
		s = strings.ToLower(s)
	}
	return s
}

func findPhrase(li int, ws []Word, q Query) []Match {
	var qw []string
	total := 0
	for _, f := range strings.Fields(q.Text) {
		if n := normWord(f, q.CaseSensitive); n != "" {
			qw = append(qw, n)
			total += utf8.RuneCountInString(n)
		}
	}
	if len(qw) == 0 {
		return nil
	}
	// Words that are only punctuation ("-", "|") take no part.
	var lw []string
	var lws []Word
	for _, w := range ws {
		if n := normWord(w.Text, q.CaseSensitive); n != "" {
			lw = append(lw, n)
			lws = append(lws, w)
		}
	}
	budget := (15*total + 99) / 100
	var out []Match
	for i := 0; i < len(lw); i++ {
		end, edits := matchFrom(qw, lw, i, q.Fuzzy)
		if end < 0 || edits > 0 && edits > budget {
			continue
		}
		out = append(out, newMatch(li, lws[i:end], 1-float64(edits)/float64(total)))
		i = end - 1
	}
	return out
}

// matchFrom matches all query words against line words from index i on
// and returns the end index and the number of slips, or -1. One line word
// may stand for up to three query words run together ("GoBack" for
// "Go Back"), a slip OCR makes when word spacing is tight; the reverse
// (one query word split over line words) is not allowed, so "Hostname"
// does not match "host name".
func matchFrom(qw, lw []string, i int, fuzzy bool) (int, int) {
	if len(qw) == 0 {
		return i, 0
	}
	if i >= len(lw) {
		return -1, 0
	}
	best, bestEdits := -1, 0
	for k := 1; k <= 3 && k <= len(qw); k++ {
		want := strings.Join(qw[:k], "")
		d := wordDistance(want, lw[i], fuzzy)
		if d < 0 {
			continue
		}
		end, e := matchFrom(qw[k:], lw, i+1, fuzzy)
		if end < 0 {
			continue
		}
		if best < 0 || d+e < bestEdits {
			best, bestEdits = end, d+e
		}
	}
	return best, bestEdits
}

// wordDistance is the number of slips between a query word and a
// recognised word, or -1 when they are different words.
func wordDistance(want, got string, fuzzy bool) int {
	if want == got {
		return 0
	}
	if !fuzzy {
		return -1
	}
	a, b := []rune(want), []rune(got)
	allowed := 2
	switch {
	case len(a) <= 3:
		return -1
	case len(a) <= 7:
		allowed = 1
	}
	if strings.ContainsFunc(want, unicode.IsDigit) {
		return -1
	}
	if strings.HasPrefix(got, want) || strings.HasPrefix(want, got) {
		return -1
	}
	if d := levenshtein(a, b); d <= allowed {
		return d
	}
	return -1
}

func levenshtein(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
