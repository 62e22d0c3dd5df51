// Package secret reads secrets that users keep in files (display and VNC
// passwords, a script's ${PASSWORD}), all one way, so that a password
// that works in one command works in every other.
package secret

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ReadFile returns the whole content of a password file without the line
// end(s) an editor leaves (trailing CR and LF); inner line breaks and
// spaces are part of the secret. An empty secret is an error, so a
// truncated file never becomes "no password". Errors name the file,
// never its content.
func ReadFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in our message already
		}
		return "", fmt.Errorf("password file %s: %w", path, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("password file %s is empty", path)
	}
	return s, nil
}
