package domainxml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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
