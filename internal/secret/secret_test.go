package secret

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want, wantErr string
	}{
		{"plain", "hunter2", "hunter2", ""},
		{"editor newline", "hunter2\n", "hunter2", ""},
		{"windows line ends", "hunter2\r\n\r\n", "hunter2", ""},
		{"spaces are the password's", " hunter 2 \n", " hunter 2 ", ""},
		{"whole file, not the first line", "line1\nline2\n", "line1\nline2", ""},
		{"empty", "", "", "is empty"},
		{"only a newline", "\r\n", "", "is empty"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
		if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), p) {
				t.Errorf("%s: err %v, want one naming %s with %q", tc.name, err, p, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: ReadFile = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	missing := filepath.Join(dir, "nope")
	_, err := ReadFile(missing)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "password file "+missing+": no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}

// A directory opens but does not read: still an error naming it.
func TestReadFileDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadFile(dir)
	if err == nil || !strings.HasPrefix(err.Error(), "password file "+dir+": ") {
		t.Errorf("directory: %v", err)
	}
}
