package fetch

import (
	"fmt"
	"strings"
)

// Magic makes Verifiers that accept content with the bytes magic at
// offset: a file-type check for a source that has no published digest
// (an ISO 9660 image has "CD001" at 32769). It proves what kind of file
// arrived, not which one; the manifest still names it by SHA-256.
func Magic(offset int64, magic string) func() Verifier {
	return func() Verifier { return &magicVerifier{offset: offset, want: magic} }
}

// ISO9660 accepts an ISO 9660 image (the primary volume descriptor's
// "CD001" at byte 32769).
func ISO9660() func() Verifier { return Magic(32769, "CD001") }

type magicVerifier struct {
	offset int64
	want   string
	pos    int64
	got    strings.Builder
}

func (m *magicVerifier) Write(p []byte) (int, error) {
	end := m.offset + int64(len(m.want))
	if m.pos < end && m.pos+int64(len(p)) > m.offset {
		from := max(m.offset-m.pos, 0)
		to := min(end-m.pos, int64(len(p)))
		m.got.Write(p[from:to])
	}
	m.pos += int64(len(p))
	return len(p), nil
}

func (m *magicVerifier) Verify() error {
	if m.got.String() != m.want {
		return fmt.Errorf("not the expected file type: %q at byte %d, want %q", m.got.String(), m.offset, m.want)
	}
	return nil
}
