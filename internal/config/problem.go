package config

import "github.com/deskvm/deskvm/internal/yamlsrc"

// problemList collects the problems of Validate and CheckHost by field
// path; Doc.Locate adds the file positions.
type problemList struct {
	ps yamlsrc.Problems
}

func (l *problemList) errorf(path, format string, args ...any) {
	l.ps = append(l.ps, yamlsrc.Errorf(path, format, args...))
}

// keyErrorf is an error about a name (a VM's, a shared folder's tag),
// pointed at the key rather than its value.
func (l *problemList) keyErrorf(path, format string, args ...any) {
	l.errorf(path, format, args...)
	l.ps[len(l.ps)-1].OnKey = true
}

func (l *problemList) warnf(path, format string, args ...any) {
	l.ps = append(l.ps, yamlsrc.Warnf(path, format, args...))
}
