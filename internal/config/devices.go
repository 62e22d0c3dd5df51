package config

import (
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"sort"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// deviceElements are the element names libvirt accepts in <devices>,
// taken from libvirtxml's mirror of libvirt's schema so they stay in step.
var deviceElements = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(libvirtxml.DomainDeviceList{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("xml"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
}()

// renderedOnce are devices deskvm renders itself and libvirt allows only
// once per domain; the matching option configures them.
var renderedOnce = map[string]string{
	"memballoon": "memballoon",
	"emulator":   "accelerator",
}

// CheckExtraDevices checks that s is well-formed XML made of libvirt device
// elements that libvirtxml can read, and reports each problem at path
// with its line within s (Problem.InnerLine; Doc.Locate turns it into the
// line of the file when it can).
func CheckExtraDevices(path, s string) yamlsrc.Problems {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var msgs yamlsrc.Problems
	// The wrapper is on the first line, so decoder lines are lines of s.
	d := xml.NewDecoder(strings.NewReader("<devices>" + s + "</devices>"))
	depth := 0
	var open []int // the start line of each open element, for "is not closed"
	for {
		// Lines are taken before the token: where it starts, not ends.
		line, _ := d.InputPos()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				msg, at := se.Msg, se.Line
				// The wrapper's end tag is not the user's: say what is
				// open, where it was opened.
				if a, ok := strings.CutSuffix(msg, " closed by </devices>"); ok {
					msg = strings.TrimPrefix(a, "element ") + " is not closed"
					if len(open) > 1 {
						at = open[len(open)-1]
					}
				}
				msgs = append(msgs, yamlsrc.InnerErrorf(path, at, "malformed XML: %s", msg))
			} else {
				msgs = append(msgs, yamlsrc.InnerErrorf(path, 0, "malformed XML: %v", err))
			}
			return msgs
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			open = append(open, line)
			if depth != 2 {
				continue
			}
			name := t.Name.Local
			if t.Name.Space != "" {
				name = t.Name.Space + ":" + name
			}
			switch {
			case !deviceElements[name]:
				msgs = append(msgs, yamlsrc.InnerErrorf(path, line, "<%s> is not a libvirt device element (allowed: %s)", name, strings.Join(deviceNames(), ", ")))
			case renderedOnce[name] != "":
				msgs = append(msgs, yamlsrc.InnerErrorf(path, line, "<%s> is rendered by deskvm already; set the %s option instead", name, renderedOnce[name]))
			}
		case xml.EndElement:
			depth--
			open = open[:len(open)-1]
		case xml.CharData:
			if text := strings.TrimSpace(string(t)); depth == 1 && text != "" {
				// The text starts after the newlines that lead it.
				lead := string(t)[:strings.Index(string(t), text)]
				msgs = append(msgs, yamlsrc.InnerErrorf(path, line+strings.Count(lead, "\n"), "text %q outside any element", truncate(text, 30)))
			}
		}
	}
	if len(msgs) > 0 {
		return msgs
	}
	// libvirtxml parses attribute values it knows (addresses, numbers), so
	// this catches e.g. bus="zz" before libvirt does.
	var list libvirtxml.DomainDeviceList
	if err := xml.Unmarshal([]byte("<devices>"+s+"</devices>"), &list); err != nil {
		msgs = append(msgs, yamlsrc.InnerErrorf(path, 0, "libvirt cannot read it: %v", err))
	}
	return msgs
}

func deviceNames() []string {
	names := make([]string, 0, len(deviceElements))
	for n := range deviceElements {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
