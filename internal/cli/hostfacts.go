package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/deskvm/deskvm/internal/hostfacts"
)

// warnUnknownFacts says which host facts could not be learned (a remote
// host), and so were neither used nor checked.
func warnUnknownFacts(w io.Writer, uri string, f *hostfacts.Facts) {
	if f == nil || len(f.Unknown) == 0 {
		return
	}
	fmt.Fprintf(w, "warning: host facts of %s come from its libvirt capabilities; unknown there, so not checked: %s (libvirt picks firmware vars and virtiofsd when it defines the VM)\n",
		uri, strings.Join(f.Unknown, ", "))
}
