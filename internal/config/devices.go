package config

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"libvirt.org/go/libvirtxml"
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

// DeviceProblem is one problem of an extraDevices text: Line is the line
// within the text (1-based, 0 when unknown).
type DeviceProblem struct {
	Line    int
	Message string
}

func (p DeviceProblem) String() string {
	if p.Line > 0 {
		return innerLinePrefix(p.Line) + p.Message
	}
	return p.Message
}

// CheckExtraDevices checks that s is well-formed XML made of libvirt device
// elements that libvirtxml can read, and reports each problem with its
// line within s.
func CheckExtraDevices(s string) []DeviceProblem {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var msgs []DeviceProblem
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
				msgs = append(msgs, DeviceProblem{at, "malformed XML: " + msg})
			} else {
				msgs = append(msgs, DeviceProblem{0, fmt.Sprintf("malformed XML: %v", err)})
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
				msgs = append(msgs, DeviceProblem{line, fmt.Sprintf("<%s> is not a libvirt device element (allowed: %s)", name, strings.Join(deviceNames(), ", "))})
			case renderedOnce[name] != "":
				msgs = append(msgs, DeviceProblem{line, fmt.Sprintf("<%s> is rendered by deskvm already; set the %s option instead", name, renderedOnce[name])})
			}
		case xml.EndElement:
			depth--
			open = open[:len(open)-1]
		case xml.CharData:
			if text := strings.TrimSpace(string(t)); depth == 1 && text != "" {
				// The text starts after the newlines that lead it.
				lead := string(t)[:strings.Index(string(t), text)]
				msgs = append(msgs, DeviceProblem{line + strings.Count(lead, "\n"), fmt.Sprintf("text %q outside any element", truncate(text, 30))})
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
		msgs = append(msgs, DeviceProblem{0, fmt.Sprintf("libvirt cannot read it: %v", err)})
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
