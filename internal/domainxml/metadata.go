package domainxml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Namespace is deskvm's XML namespace inside a domain's <metadata>.
// libvirt keeps one element per namespace there; its presence is what
// marks a domain as managed by deskvm.
const Namespace = "https://deskvm.dev/xmlns/vm/1"

// ManagedBy is the managedBy value deskvm writes.
const ManagedBy = "deskvm"

// Metadata is what deskvm records in a domain it defines.
type Metadata struct {
	XMLName xml.Name `xml:"https://deskvm.dev/xmlns/vm/1 vm"`
	// ManagedBy is always "deskvm"; it makes the element self-explaining
	// to a person reading `virsh dumpxml`.
	ManagedBy string `xml:"managedBy"`
	// ConfigHash is the hash of the VM's configuration and of the
	// definition rendered from it (display passwords left out); plan
	// compares it to decide "unchanged".
	ConfigHash string `xml:"configHash"`
}

func (m Metadata) innerXML() (string, error) {
	b, err := xml.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("marshal deskvm metadata: %w", err)
	}
	return string(b), nil
}

// ParseMetadata finds deskvm's element in a domain XML document (as
// rendered, or as libvirt returns it from dumpxml, where the element
// carries a namespace prefix). ok is false when the domain has none,
// i.e. deskvm does not manage it.
func ParseMetadata(domainXML string) (md Metadata, ok bool, err error) {
	dec := xml.NewDecoder(strings.NewReader(domainXML))
	depth := 0
	inMetadata := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return Metadata{}, false, nil
		}
		if err != nil {
			return Metadata{}, false, fmt.Errorf("parse domain xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 2 && t.Name.Local == "metadata":
				inMetadata = true
			case inMetadata && depth == 3 && t.Name.Space == Namespace && t.Name.Local == "vm":
				if err := dec.DecodeElement(&md, &t); err != nil {
					return Metadata{}, false, fmt.Errorf("parse deskvm metadata: %w", err)
				}
				return md, true, nil
			}
		case xml.EndElement:
			if depth == 2 && inMetadata {
				inMetadata = false
			}
			depth--
		}
	}
}

// Reasons DefinitionChange gives.
const (
	ChangeConfig   = "config changed"
	ChangePassword = "display password changed"
)

// DefinitionChange compares two definitions of one domain (rendered, or
// read from libvirt with the secure flag, live or inactive) and says why
// they differ, "" when they do not. The metadata's configHash covers the
// whole rendered definition except the display passwords, which come from
// graphics.passwordFile and so are compared on their own. A document
// without deskvm's metadata, or one that does not parse, has an empty
// hash and no passwords. Plan (config vs libvirt) and the vm verbs' pending
// restart (live vs inactive) both decide with it, so they cannot disagree.
// The passwords are only compared, never returned.
func DefinitionChange(old, new string) string {
	if configHash(old) != configHash(new) {
		return ChangeConfig
	}
	if !slices.Equal(graphicsPasswords(old), graphicsPasswords(new)) {
		return ChangePassword
	}
	return ""
}

func configHash(doc string) string {
	md, ok, err := ParseMetadata(doc)
	if err != nil || !ok {
		return ""
	}
	return md.ConfigHash
}

// graphicsPasswords are the passwd attributes of the domain's <graphics>
// elements, in document order; nil when there are none or doc does not
// parse.
func graphicsPasswords(doc string) []string {
	ps, err := GraphicsPasswords(doc)
	if err != nil {
		return nil
	}
	return ps
}

// GraphicsPasswords reads the display passwords of a domain XML document
// (present only in XML read with libvirt's secure flag, or rendered with
// WithGraphicsPassword). Callers compare them; never print them.
func GraphicsPasswords(doc string) ([]string, error) {
	var out []string
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse domain xml: %w", err)
		}
		if t, ok := tok.(xml.StartElement); ok && t.Name.Local == "graphics" {
			for _, a := range t.Attr {
				if a.Name.Local == "passwd" {
					out = append(out, a.Value)
				}
			}
		}
	}
}
