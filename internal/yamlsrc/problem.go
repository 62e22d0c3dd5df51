package yamlsrc

import (
	"fmt"
	"sort"
	"strings"
)

// Severity tells whether a problem stops a document from being used.
type Severity int

const (
	// SeverityError makes the document unusable.
	SeverityError Severity = iota
	// SeverityWarning is worth a look but does not stop anything.
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Pos is a position in a document, 1-based; the zero value means unknown.
type Pos struct {
	Line   int
	Column int
}

// IsValid reports whether the position is known.
func (p Pos) IsValid() bool { return p.Line > 0 }

func (p Pos) String() string {
	if !p.IsValid() {
		return ""
	}
	return fmt.Sprintf("%d:%d", p.Line, p.Column)
}

// Location is a position in a named file, for what outlives the load:
// an automation step remembers where it was written.
type Location struct {
	File string
	Pos
}

// String is "file:line:col".
func (l Location) String() string { return fmt.Sprintf("%s:%d:%d", l.File, l.Line, l.Column) }

// Problem is one finding about a document: where (file, position, path)
// and what. Load fills all of them; a schema's own checks usually give
// only Path and Message and let Doc.Locate find the position.
type Problem struct {
	// File is the document's name as given to Load.
	File string
	Pos  Pos
	// Path says where in the document: a field path such as
	// vms.win11.memballoon.statsInterval or vms.win11.cpuPinning[2], or a
	// schema's own label with the path below it, such as
	// "step 3 (click): region.width" (Node.Label); empty for the whole file.
	Path     string
	Message  string
	Severity Severity

	// OnKey makes Locate point at the key rather than the value, for
	// problems with a name (a map entry's key is the thing that is wrong).
	OnKey bool
	// InnerLine is a line (1-based) within a multi-line string value. The
	// message then starts with "line N: ", which Locate drops when it can
	// point at that line of the file (a literal block, |).
	InnerLine int
}

// Errorf is an error-severity problem at a field path.
func Errorf(path, format string, args ...any) Problem {
	return Problem{Path: path, Message: fmt.Sprintf(format, args...), Severity: SeverityError}
}

// Warnf is a warning at a field path.
func Warnf(path, format string, args ...any) Problem {
	return Problem{Path: path, Message: fmt.Sprintf(format, args...), Severity: SeverityWarning}
}

// InnerErrorf is an error at line n (1-based; 0 when unknown) of the
// multi-line string at path.
func InnerErrorf(path string, n int, format string, args ...any) Problem {
	msg := fmt.Sprintf(format, args...)
	if n > 0 {
		msg = innerLinePrefix(n) + msg
	}
	return Problem{Path: path, Message: msg, Severity: SeverityError, InnerLine: n}
}

func innerLinePrefix(n int) string { return fmt.Sprintf("line %d: ", n) }

// Location is "file:line:col", "file", "line:col" or "" as far as known.
func (p Problem) Location() string {
	switch {
	case p.File != "" && p.Pos.IsValid():
		return p.File + ":" + p.Pos.String()
	case p.File != "":
		return p.File
	case p.Pos.IsValid():
		return p.Pos.String()
	}
	return ""
}

// String is "file:line:col: path: message", leaving out what is unknown.
// This is the one way problems are printed.
func (p Problem) String() string {
	var b strings.Builder
	if loc := p.Location(); loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every finding of one check. As an error (Err) it prints
// one problem per line.
type Problems []Problem

// Error prints one problem per line, in order.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Errors are the problems of error severity.
func (ps Problems) Errors() Problems { return ps.filter(SeverityError) }

// Warnings are the problems of warning severity.
func (ps Problems) Warnings() Problems { return ps.filter(SeverityWarning) }

func (ps Problems) filter(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// HasErrors reports whether any problem is an error.
func (ps Problems) HasErrors() bool {
	for _, p := range ps {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}

// AsErrors returns a copy with every warning made an error.
func (ps Problems) AsErrors() Problems {
	out := make(Problems, len(ps))
	for i, p := range ps {
		p.Severity = SeverityError
		out[i] = p
	}
	return out
}

// Err is nil when there is no error-severity problem, and otherwise the
// errors as an error of type Problems (warnings are the caller's to show).
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// SortByPath orders the problems by field path, so that output is stable
// (stable: problems of one path keep their order).
func (ps Problems) SortByPath() {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
}

// SortByPos orders the problems by file position (stable: problems at
// the same place, or without one, keep their order).
func (ps Problems) SortByPos() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Pos, ps[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
}
