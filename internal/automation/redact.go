package automation

import (
	"context"
	"log/slog"
	"strings"
)

// Redacted replaces a secret wherever it would be written.
const Redacted = "***"

// Redactor removes secret values from text on its way to logs, OCR JSON
// and the report. Steps already describe secret text as ***; this is the
// net under that, for error messages and OCR text of a screen that shows
// what was typed.
type Redactor struct {
	secrets []string // longest first
	rep     *strings.Replacer
}

// NewRedactor redacts the given values.
func NewRedactor(secrets []string) *Redactor {
	r := &Redactor{secrets: dedupe(secrets)}
	if len(r.secrets) > 0 {
		pairs := make([]string, 0, 2*len(r.secrets))
		for _, s := range r.secrets {
			pairs = append(pairs, s, Redacted)
		}
		r.rep = strings.NewReplacer(pairs...)
	}
	return r
}

// String returns s with every secret replaced by ***.
func (r *Redactor) String(s string) string {
	if r == nil || r.rep == nil {
		return s
	}
	return r.rep.Replace(s)
}

// Contains reports whether s holds a secret, also case-insensitively and
// ignoring spaces, because OCR may read "Hunter 2" for "hunter2".
func (r *Redactor) Contains(s string) bool {
	if r == nil || len(r.secrets) == 0 {
		return false
	}
	squash := func(v string) string { return strings.ToLower(strings.Join(strings.Fields(v), "")) }
	ss := squash(s)
	for _, sec := range r.secrets {
		if q := squash(sec); q != "" && strings.Contains(ss, q) {
			return true
		}
	}
	return false
}

// Reading returns a copy of an OCR reading with secrets removed from every
// line and word.
func (r *Redactor) Reading(rd *Reading) *Reading {
	if rd == nil {
		return nil
	}
	out := &Reading{Texts: make([]TextLine, len(rd.Texts))}
	for i, l := range rd.Texts {
		nl := l
		nl.Text = r.line(l.Text)
		nl.Words = make([]Word, len(l.Words))
		for j, w := range l.Words {
			w.Text = r.line(w.Text)
			nl.Words[j] = w
		}
		out.Texts[i] = nl
	}
	return out
}

func (r *Redactor) line(s string) string {
	s = r.String(s)
	if r.Contains(s) {
		return Redacted
	}
	return s
}

// Handler wraps a slog handler so that messages and string attributes
// are redacted.
func (r *Redactor) Handler(h slog.Handler) slog.Handler {
	if r == nil || r.rep == nil {
		return h
	}
	return &redactHandler{h: h, r: r}
}

type redactHandler struct {
	h slog.Handler
	r *Redactor
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		as := make([]any, len(g))
		for i, x := range g {
			as[i] = h.attr(x)
		}
		return slog.Group(a.Key, as...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, h.r.String(err.Error()))
		}
		return slog.String(a.Key, h.r.String(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = h.attr(a)
	}
	return &redactHandler{h: h.h.WithAttrs(out), r: h.r}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{h: h.h.WithGroup(name), r: h.r}
}
