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
// Fuzzy matching tolerates only what OCR is known to confuse, never an
// arbitrary letter or digit, so a phrase that differs from the screen by
// one letter or one digit is not found:
//   - characters that screen fonts draw alike: O/0, I/l/1/|, S/5, B/8,
//     Z/2, g/9/q, e/c, U/V, T/I, ./, and :/; (see confusions), the
//     dotted zero of monospace fonts read as "@" (also at a word's end or
//     alone), the slanted slash of sans-serif fonts read as j, f or i
//     (also at the start of a query word that starts with "/"), the
//     crossed colon of X11's fixed fonts read as 3, and the pairs rn/m,
//     vv/w, cl/d, each counted as one slip;
//   - at most 30% of the phrase's characters (at least 1) may be slips;
//   - punctuation inside a query word may come out as a space (OCR splits
//     "52:54:00:12:34:56" after a colon, "x86_64" at the underscore), a
//     space may appear next to such punctuation, punctuation next to such
//     a space may be missing ("fe80::5054" read as "fe80: :5054", whose
//     words lose their colons), and an underscore or a bracket may be
//     lost (one slip);
//   - one recognised word may stand for up to three query words run
//     together ("GoBack" for "Go Back");
//   - the phrase may end before, or start after, a "/", "," or "=" inside
//     a recognised word ("10.0.2.15" in "10.0.2.15/24").
//
// Never a word that only adds or drops letters, so "detect" does not
// match "detection", "Install" not "Installs", "HTTP" not "HTTPS".
// Words are never split without punctuation, so "Hostname" does not
// match "host name".
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
		ms := findIn(li, words, q)
		// Another reading of the line counts when this one has no match.
		for _, a := range line.alts {
			if len(ms) > 0 {
				break
			}
			words := a.Words
			if q.Region != nil {
				words = wordsIn(words, *q.Region)
			}
			ms = findIn(li, words, q)
		}
		if len(ms) == 0 {
			ms = findMore(res, li, words, q)
		}
		out = append(out, ms...)
	}
	return out
}

func findIn(li int, words []Word, q Query) []Match {
	if len(words) == 0 {
		return nil
	}
	switch {
	case q.Regex != nil:
		return findRegex(li, words, q)
	case q.Contains:
		return findContains(li, words, q)
	}
	return findPhrase(li, words, q)
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
	var qw, qslash []string
	total := 0
	for _, f := range strings.Fields(q.Text) {
		if n := normWord(f, q.CaseSensitive); n != "" {
			qw = append(qw, n)
			qslash = append(qslash, leadingSlash(f, n, q))
			total += utf8.RuneCountInString(n)
		}
	}
	if len(qw) == 0 {
		return nil
	}
	// Words that are only punctuation ("-", "|") take no part, unless
	// they are a misread zero ("@").
	var lw []string
	var alt [][]variant
	var lws []Word
	for _, w := range ws {
		n := normWord(w.Text, q.CaseSensitive)
		vs := wordVariants(w.Text, n, q)
		if n == "" && len(vs) > 0 {
			n, vs = vs[0].s, vs[1:]
		}
		if n != "" {
			lw = append(lw, n)
			lws = append(lws, w)
			alt = append(alt, vs)
		}
	}
	qv := queryWords{w: qw, slash: qslash}
	budget := max(1, (30*total)/100)
	var out []Match
	for i := 0; i < len(lw); i++ {
		end, slips := matchFrom(qv, lw, alt, i, q.Fuzzy, true)
		if end < 0 || slips > budget {
			continue
		}
		out = append(out, newMatch(li, lws[i:end], 1-float64(slips)/float64(total)))
		i = end - 1
	}
	return out
}

// queryWords are the normalised words of a query and, for each, its
// form with a leading slash ("/dev/vda1") or "".
type queryWords struct {
	w, slash []string
}

func (q queryWords) from(k int) queryWords {
	return queryWords{w: q.w[k:], slash: q.slash[k:]}
}

// variant is another way to read a recognised word and the slips it
// costs beyond those of the comparison.
type variant struct {
	s    string
	cost int
}

// matchFrom matches all query words against line words from index i on
// and returns the end index and the number of slips, or -1. One line word
// may stand for up to three query words run together ("GoBack" for
// "Go Back"), a slip OCR makes when word spacing is tight; one query word
// with punctuation inside may be split over up to four line words
// ("52:54:00: 12:34:56"), but a word without punctuation is never split,
// so "Hostname" does not match "host name".
func matchFrom(qv queryWords, lw []string, alt [][]variant, i int, fuzzy, first bool) (int, int) {
	qw := qv.w
	if len(qw) == 0 {
		return i, 0
	}
	if i >= len(lw) {
		return -1, 0
	}
	best, bestSlips := -1, 0
	for k := 1; k <= 3 && k <= len(qw); k++ {
		want := strings.Join(qw[:k], "")
		parts := 1
		if fuzzy && k == 1 && strings.ContainsFunc(want, isPunct) {
			parts = 4
		}
		for m := 1; m <= parts && i+m <= len(lw); m++ {
			got := strings.Join(lw[i:i+m], " ")
			d := wordDistance(want, got, fuzzy)
			if d < 0 && k == 1 && qv.slash[0] != "" {
				// The leading slash read as a letter ("jdev/vda1").
				d = wordDistance(qv.slash[0], got, fuzzy)
			}
			if d < 0 && m == 1 {
				for _, a := range alt[i] {
					if e := wordDistance(want, a.s, fuzzy); e >= 0 {
						d = e + a.cost
						break
					}
				}
			}
			if d < 0 && fuzzy && m == 1 {
				d = partDistance(want, got, first, k == len(qw))
			}
			if d < 0 {
				continue
			}
			end, e := matchFrom(qv.from(k), lw, alt, i+m, fuzzy, false)
			if end < 0 {
				continue
			}
			if best < 0 || d+e < bestSlips {
				best, bestSlips = end, d+e
			}
		}
	}
	return best, bestSlips
}

// partDistance compares a query word with the part of a recognised word
// before (last: the phrase ends there) or after (first: it starts there)
// a separator inside it: an address shown with its prefix length
// ("10.0.2.15" in "10.0.2.15/24"), a value after "=", a list item before
// ",". A phrase never ends or starts inside a word at other punctuation
// ("10.0.2" is not found in "10.0.2.15").
func partDistance(want, got string, first, last bool) int {
	for p, r := range got {
		if !strings.ContainsRune(partSeparators, r) {
			continue
		}
		// The part's own end punctuation is ignored as a word's is:
		// "Fv(7CB8…)" is found in "Fv(7CB8…)/FvFile(462C…)".
		if last {
			if d := wordDistance(want, normWord(got[:p], true), true); d >= 0 {
				return d
			}
		}
		if first {
			if d := wordDistance(want, normWord(got[p+1:], true), true); d >= 0 {
				return d
			}
		}
	}
	return -1
}

// partSeparators separate the parts of a token that a phrase may end or
// start at.
const partSeparators = "/,="

// wordVariants are other readings of the recognised word raw (normalised
// as n) that fuzzy matching tries: with an "i" for the bracket or bar it
// starts with ("[nteractive": OCR often reads a capital I of a screen
// font so), and with an "@" at its ends kept (the dotted or slashed zero
// of monospace fonts: "/media/cdrom@", "@" alone), which the trimming of
// punctuation would otherwise drop.
func wordVariants(raw, n string, q Query) []variant {
	if !q.Fuzzy {
		return nil
	}
	var vs []variant
	if strings.Contains(raw, "@") {
		// Kept as "@", which wordDistance takes for a zero (one slip).
		z := strings.TrimFunc(raw, func(r rune) bool { return r != '@' && !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if !q.CaseSensitive {
			z = strings.ToLower(z)
		}
		if z != n {
			vs = append(vs, variant{z, 0})
		}
	}
	if b := leadingBar(raw, n, q); b != "" {
		vs = append(vs, variant{b, 1})
	}
	return vs
}

// leadingSlash returns the query word raw (normalised as n) with its
// leading slash when it starts with one ("/dev/vda1"), else "": a slash
// of a sans-serif screen font is often read as j, f or i, which then no
// longer is punctuation trimmed from the word.
func leadingSlash(raw, n string, q Query) string {
	if !q.Fuzzy || !strings.HasPrefix(raw, "/") || n == "" {
		return ""
	}
	return "/" + n
}

// leadingBar returns the recognised word raw, normalised as n, with an
// "i" for the bracket or bar it starts with, or "" when it starts
// otherwise.
func leadingBar(raw, n string, q Query) string {
	if !q.Fuzzy || len(raw) < 2 || !strings.ContainsRune("[|!", rune(raw[0])) || !unicode.IsLetter(rune(raw[1])) {
		return ""
	}
	return "i" + n
}

func isPunct(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsSpace(r) }

// confusions are the pairs of characters (after case folding) that OCR
// takes for one another on screen fonts.
var confusions = func() map[[2]rune]bool {
	m := map[[2]rune]bool{}
	for _, p := range []string{
		"o0", "il", "i1", "l1", "i|", "l|", "1|", "i!", "l!", "s5", "b8", "z2",
		"g9", "gq", "q9", "ec", "uv", "ti", ".,", ":;", "'\"", "'`",
		// The dotted or slashed zero of monospace fonts; the slanted
		// slash of sans-serif fonts, which descends like a j.
		"0@", "/j", "/f", "/i",
		// The colon of X11's fixed fonts, whose dots are crosses.
		":3",
	} {
		a, b := []rune(p)[0], []rune(p)[1]
		m[[2]rune{a, b}], m[[2]rune{b, a}] = true, true
	}
	return m
}()

// multiConfusions are letter groups OCR reads as one letter and back.
var multiConfusions = [][2]string{{"rn", "m"}, {"vv", "w"}, {"cl", "d"}}

// wordDistance is the number of slips between a query word and a
// recognised word (several recognised words joined by spaces when the
// query word is split at its punctuation), or -1 when they are different
// words. Without fuzzy only equal words match.
func wordDistance(want, got string, fuzzy bool) int {
	if want == got {
		return 0
	}
	if !fuzzy {
		return -1
	}
	return confusionDistance([]rune(want), []rune(got))
}

// confusionDistance aligns q with g using only the tolerated slips (see
// Find) and returns their smallest number, or -1.
func confusionDistance(q, g []rune) int {
	n, m := len(q), len(g)
	const inf = 1 << 20
	dp := make([]int, (n+1)*(m+1))
	for k := range dp {
		dp[k] = inf
	}
	at := func(i, j int) *int { return &dp[i*(m+1)+j] }
	*at(0, 0) = 0
	relax := func(i, j, v int) {
		if i <= n && j <= m && v < *at(i, j) {
			*at(i, j) = v
		}
	}
	for i := 0; i <= n; i++ {
		for j := 0; j <= m; j++ {
			c := *at(i, j)
			if c >= inf {
				continue
			}
			if i < n && j < m {
				switch {
				case q[i] == g[j]:
					relax(i+1, j+1, c)
				case confusions[[2]rune{unicode.ToLower(q[i]), unicode.ToLower(g[j])}]:
					relax(i+1, j+1, c+1)
				case isPunct(q[i]) && g[j] == ' ':
					relax(i+1, j+1, c)
				}
				for _, mc := range multiConfusions {
					a, b := []rune(mc[0]), []rune(mc[1])
					if hasRunes(q[i:], a) && hasRunes(g[j:], b) {
						relax(i+len(a), j+len(b), c+1)
					}
					if hasRunes(q[i:], b) && hasRunes(g[j:], a) {
						relax(i+len(b), j+len(a), c+1)
					}
				}
			}
			if j < m && g[j] == ' ' && (i > 0 && isPunct(q[i-1]) || i < n && isPunct(q[i])) {
				relax(i, j+1, c)
			}
			if i < n && isPunct(q[i]) && (j > 0 && g[j-1] == ' ' || j < m && g[j] == ' ') {
				// Where OCR split a word, the punctuation beside the
				// space was trimmed with the word's end ("fe80::5054"
				// read as "fe80:" ":5054").
				relax(i+1, j, c)
			}
			if i < n && (q[i] == '_' || isBracket(q[i])) {
				relax(i+1, j, c+1)
			}
		}
	}
	if d := *at(n, m); d < inf {
		return d
	}
	return -1
}

// isBracket: brackets inside a word ("(d)efault", "Pci(0x1F") are thin
// and are often lost.
func isBracket(r rune) bool { return r == '(' || r == ')' || r == '[' || r == ']' }

// hasRunes reports whether s starts with the lower-case runes p.
func hasRunes(s, p []rune) bool {
	if len(s) < len(p) {
		return false
	}
	for i, r := range p {
		if unicode.ToLower(s[i]) != r {
			return false
		}
	}
	return true
}
