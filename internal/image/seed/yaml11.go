package seed

import (
	"regexp"
	"strconv"
)

// cloud-init reads its YAML with PyYAML, which resolves plain scalars by
// YAML 1.1 rules: 52:54:00:12:34:56 is a base-60 integer there, on/off are
// booleans, .inf a float, = a "value". The encoder quotes by YAML 1.2
// rules, so every string that goes to cloud-init is a str11, which is
// double-quoted whenever PyYAML would read it as anything but a string.
type str11 string

// PyYAML's implicit resolvers (resolver.py), all anchored.
var yaml11NonString = regexp.MustCompile(`^(?:` +
	// bool
	`yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF` +
	// float
	`|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?` +
	`|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)` +
	// int
	`|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+` +
	// merge, null, value
	`|<<|~|null|Null|NULL|=` +
	// timestamp
	`|[0-9]{4}-[0-9]{2}-[0-9]{2}` +
	`|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?` +
	`)$`)

// MarshalYAML implements yaml.BytesMarshaler.
func (s str11) MarshalYAML() ([]byte, error) {
	if s == "" || yaml11NonString.MatchString(string(s)) {
		return []byte(strconv.Quote(string(s))), nil
	}
	return encode(string(s))
}

func strs11(ss []string) []str11 {
	if ss == nil {
		return nil
	}
	out := make([]str11, len(ss))
	for i, s := range ss {
		out[i] = str11(s)
	}
	return out
}
