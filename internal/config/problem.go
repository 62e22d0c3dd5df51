package config

import (
	"fmt"
	"strings"
)

// Severity tells whether a problem stops the config from being used.
type Severity int

const (
	// SeverityError makes the config unusable.
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

// Pos is a position in the config file, 1-based; the zero value means unknown.
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

// Problem is one finding about a config: where (field path, and after
// Source.Locate the file position) and what.
type Problem struct {
	// Path is the field path, e.g. vms.win11.memballoon.statsInterval or
	// vms.win11.cpuPinning[2]; empty for the file as a whole.
	Path     string
	Message  string
	Severity Severity
	// File and Pos are filled by Load and Source.Locate.
	File string
	Pos  Pos

	// onKey makes Locate point at the key rather than the value, for
	// problems with a name (a VM's, a shared folder's tag).
	onKey bool
	// innerLine is a line within a multi-line string value (extraDevices
	// XML); the message then starts with innerLinePrefix, which Locate
	// drops when it can point at that line of the file.
	innerLine int
}

func innerLinePrefix(n int) string { return fmt.Sprintf("line %d: ", n) }

// Location is "file:line:col", "file", or "" as far as known.
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

// Problems is every finding of one check, in a stable order.
type Problems []Problem

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

// AsErrors returns a copy with every warning made an error: host checks
// are warnings for `config validate` and errors where the host matters
// (`config validate --host`, plan, apply).
func (ps Problems) AsErrors() Problems {
	out := make(Problems, len(ps))
	for i, p := range ps {
		p.Severity = SeverityError
		out[i] = p
	}
	return out
}

// Err is nil when there is no error-severity problem, and otherwise an
// *Error holding the errors (warnings are left to the caller to show).
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &Error{Problems: errs}
}

// Error is a config that cannot be used, with every reason.
type Error struct {
	Problems Problems
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid config: " + lines[0]
	}
	return fmt.Sprintf("invalid config (%d problems):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// problemList collects problems while checking.
type problemList struct {
	ps Problems
}

func (l *problemList) errorf(path, format string, args ...any) {
	l.ps = append(l.ps, Problem{Path: path, Message: fmt.Sprintf(format, args...), Severity: SeverityError})
}

// innerErrorf is an error at line n (1-based) of the multi-line string at
// path; n = 0 when the line is unknown.
func (l *problemList) innerErrorf(path string, n int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if n > 0 {
		msg = innerLinePrefix(n) + msg
	}
	l.ps = append(l.ps, Problem{Path: path, Message: msg, Severity: SeverityError, innerLine: n})
}

func (l *problemList) keyErrorf(path, format string, args ...any) {
	l.errorf(path, format, args...)
	l.ps[len(l.ps)-1].onKey = true
}

func (l *problemList) warnf(path, format string, args ...any) {
	l.ps = append(l.ps, Problem{Path: path, Message: fmt.Sprintf(format, args...), Severity: SeverityWarning})
}
