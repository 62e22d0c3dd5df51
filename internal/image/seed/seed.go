// Package seed makes the NoCloud seed that configures a Linux cloud image
// on its first boot: cloud-init's user-data, meta-data and network-config,
// rendered as pure functions from a flat Args by a YAML encoder (never by
// text substitution), and WriteISO, which puts them on an ISO 9660 volume
// labelled "cidata".
//
// Attach the ISO as a virtio disk (Debian's cloud kernel has no SATA AHCI)
// and give the NIC the MAC address of Args.MAC: network-config v2 matches
// the NIC by that address, renames it to Args.InterfaceName and runs DHCP
// on it. The image needs a network renderer (netplan with
// systemd-networkd on Debian 12), or its first boot has no network.
package seed

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"golang.org/x/crypto/ssh"
)

// File is a file cloud-init writes (write_files).
type File struct {
	Path        string // absolute path in the guest
	Content     string // written as is; not valid UTF-8 → base64 in user-data
	Permissions string // octal, e.g. "0644"; empty: cloud-init's default 0644
	Owner       string // "user:group"; empty: root:root. A non-root owner is written at the end of the boot, after users exist
}

// HostKey is an SSH host key pair the guest installs instead of generating
// one, so the client can pin the host key before the first contact.
type HostKey struct {
	Private string // OpenSSH PEM ("-----BEGIN OPENSSH PRIVATE KEY-----")
	Public  string // authorized_keys format ("ssh-ed25519 AAAA…")
}

// Args is everything a seed says. Zero values get the defaults named on
// each field.
type Args struct {
	// InstanceID: a new value makes cloud-init run its per-instance
	// modules again. Empty: "iid-" and a digest of everything else, so any
	// change of the configuration is a new instance.
	InstanceID string
	Hostname   string // required; also the guest's /etc/hosts entry
	Username   string // required; created with passwordless sudo, password locked
	// SSHAuthorizedKeys are the user's authorized_keys lines; at least one.
	SSHAuthorizedKeys []string
	// MAC of the NIC to configure (DHCPv4); required.
	MAC string
	// InterfaceName the NIC gets (set-name). Default "eth0".
	InterfaceName string
	// Shell of the user. Default /bin/bash.
	Shell string
	// SSHHostKeyTypes the guest generates on first boot. Default
	// [ed25519]: an RSA key takes ~12 s without KVM. Ignored for the
	// types in HostKeys.
	SSHHostKeyTypes []string
	// HostKeys, by type ("ed25519", "ecdsa", "rsa"): installed instead of
	// generated. Optional. The private keys end up in the seed.
	HostKeys map[string]HostKey

	Packages   []string // installed by cloud-init (needs a mirror in the guest)
	WriteFiles []File
	RunCmd     []string // each run with sh -c, in order, at the end of the first boot
}

// Defaults for Args' empty fields.
const (
	DefaultInterfaceName = "eth0"
	DefaultShell         = "/bin/bash"
)

// DefaultSSHHostKeyTypes is the default of Args.SSHHostKeyTypes.
var DefaultSSHHostKeyTypes = []string{"ed25519"}

var (
	hostnameLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	usernameRE    = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	ifaceRE       = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,15}$`)
	permissionsRE = regexp.MustCompile(`^0?[0-7]{3,4}$`)
	instanceIDRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	hostKeyTypes  = map[string]string{"ed25519": ssh.KeyAlgoED25519, "ecdsa": ssh.KeyAlgoECDSA256, "rsa": ssh.KeyAlgoRSA}
)

// Validate reports every problem of a, each naming its field.
func (a Args) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if a.InstanceID != "" && !instanceIDRE.MatchString(a.InstanceID) {
		bad("instanceID", "%q: use 1 to 128 letters, digits, '.', '_' or '-'", a.InstanceID)
	}
	switch {
	case a.Hostname == "":
		bad("hostname", "required")
	case len(a.Hostname) > 253:
		bad("hostname", "longer than 253 characters")
	default:
		for _, l := range strings.Split(a.Hostname, ".") {
			if !hostnameLabel.MatchString(l) {
				bad("hostname", "%q: each dot-separated part must be 1 to 63 lowercase letters, digits or '-', not starting or ending with '-'", a.Hostname)
				break
			}
		}
	}
	switch {
	case a.Username == "":
		bad("username", "required")
	case a.Username == "root":
		bad("username", "root cannot be the user (its SSH login is disabled)")
	case !usernameRE.MatchString(a.Username):
		bad("username", "%q: use up to 32 lowercase letters, digits, '_' or '-', starting with a letter or '_'", a.Username)
	}
	if len(a.SSHAuthorizedKeys) == 0 {
		bad("sshAuthorizedKeys", "at least one key is required (the user has no password)")
	}
	for i, k := range a.SSHAuthorizedKeys {
		if strings.ContainsAny(strings.TrimSpace(k), "\r\n") {
			bad(fmt.Sprintf("sshAuthorizedKeys[%d]", i), "one key per entry, without line breaks")
			continue
		}
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err != nil {
			bad(fmt.Sprintf("sshAuthorizedKeys[%d]", i), "not a public key in authorized_keys format: %v", err)
		}
	}
	switch mac, err := net.ParseMAC(a.MAC); {
	case a.MAC == "":
		bad("mac", "required (the NIC is matched by its MAC address)")
	case err != nil || len(mac) != 6:
		bad("mac", "%q is not an Ethernet MAC address like 52:54:00:12:34:56", a.MAC)
	}
	// The name is also a key in network-config, where PyYAML would read
	// "on" or "0" as a boolean or a number.
	if a.InterfaceName != "" && (!ifaceRE.MatchString(a.InterfaceName) || yaml11NonString.MatchString(a.InterfaceName)) {
		bad("interfaceName", "%q: use 1 to 15 letters, digits, '_', '.' or '-', not a number or a YAML boolean", a.InterfaceName)
	}
	if a.Shell != "" && !path.IsAbs(a.Shell) {
		bad("shell", "%q is not an absolute path", a.Shell)
	}
	for i, t := range a.SSHHostKeyTypes {
		if _, ok := hostKeyTypes[t]; !ok {
			bad(fmt.Sprintf("sshHostKeyTypes[%d]", i), "%q: use ed25519, ecdsa or rsa", t)
		}
	}
	for _, t := range sortedKeys(a.HostKeys) {
		field := "hostKeys." + t
		algo, ok := hostKeyTypes[t]
		if !ok {
			bad(field, "unknown key type: use ed25519, ecdsa or rsa")
			continue
		}
		k := a.HostKeys[t]
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.Public))
		if err != nil {
			bad(field+".public", "not a public key in authorized_keys format: %v", err)
			continue
		}
		if pub.Type() != algo {
			bad(field+".public", "is a %s key, not %s", pub.Type(), algo)
		}
		signer, err := ssh.ParsePrivateKey([]byte(k.Private))
		if err != nil {
			// The parser's message does not contain key material.
			bad(field+".private", "not an unencrypted private key: %v", err)
			continue
		}
		if string(signer.PublicKey().Marshal()) != string(pub.Marshal()) {
			bad(field, "the private key does not belong to the public key")
		}
	}
	for i, p := range a.Packages {
		if p == "" || strings.ContainsAny(p, " \t\r\n") {
			bad(fmt.Sprintf("packages[%d]", i), "%q is not a package name", p)
		}
	}
	for i, f := range a.WriteFiles {
		field := fmt.Sprintf("writeFiles[%d]", i)
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			bad(field+".path", "%q is not a clean absolute file path", f.Path)
		}
		if f.Permissions != "" && !permissionsRE.MatchString(f.Permissions) {
			bad(field+".permissions", "%q is not an octal mode like 0644", f.Permissions)
		}
		if f.Owner != "" && strings.ContainsAny(f.Owner, " \t\r\n") {
			bad(field+".owner", "%q: use user or user:group", f.Owner)
		}
	}
	for i, c := range a.RunCmd {
		if strings.TrimSpace(c) == "" {
			bad(fmt.Sprintf("runcmd[%d]", i), "empty command")
		}
	}
	return errors.Join(errs...)
}

// The cloud-config document, in the order it is written.
type cloudConfig struct {
	ManageEtcHosts bool             `yaml:"manage_etc_hosts"`
	Users          []cloudUser      `yaml:"users"`
	DisableRoot    bool             `yaml:"disable_root"`
	SSHPwauth      bool             `yaml:"ssh_pwauth"`
	SSHDeleteKeys  bool             `yaml:"ssh_deletekeys"`
	SSHGenKeyTypes []str11          `yaml:"ssh_genkeytypes"`
	SSHKeys        yaml.MapSlice    `yaml:"ssh_keys,omitempty"`
	PackageUpdate  bool             `yaml:"package_update,omitempty"`
	Packages       []str11          `yaml:"packages,omitempty"`
	WriteFiles     []cloudWriteFile `yaml:"write_files,omitempty"`
	RunCmd         []str11          `yaml:"runcmd,omitempty"`
}

type cloudUser struct {
	Name              str11   `yaml:"name"`
	Shell             str11   `yaml:"shell"`
	Sudo              str11   `yaml:"sudo"`
	LockPasswd        bool    `yaml:"lock_passwd"`
	SSHAuthorizedKeys []str11 `yaml:"ssh_authorized_keys"`
}

type cloudWriteFile struct {
	Path        str11 `yaml:"path"`
	Encoding    str11 `yaml:"encoding,omitempty"`
	Content     any   `yaml:"content"` // str11, or string when it ends in a newline (a literal block)
	Permissions str11 `yaml:"permissions,omitempty"`
	Owner       str11 `yaml:"owner,omitempty"`
	Defer       bool  `yaml:"defer,omitempty"`
}

// UserData renders the #cloud-config user-data: the user with its keys
// and passwordless sudo, root and password logins disabled, the SSH host
// keys, packages, files and commands.
func UserData(a Args) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	a = a.withDefaults()
	cc := cloudConfig{
		ManageEtcHosts: true,
		Users: []cloudUser{{
			Name:              str11(a.Username),
			Shell:             str11(a.Shell),
			Sudo:              "ALL=(ALL) NOPASSWD:ALL",
			LockPasswd:        true,
			SSHAuthorizedKeys: strs11(trimAll(a.SSHAuthorizedKeys)),
		}},
		DisableRoot:    true,
		SSHDeleteKeys:  true,
		SSHGenKeyTypes: strs11(a.SSHHostKeyTypes),
		PackageUpdate:  len(a.Packages) > 0,
		Packages:       strs11(a.Packages),
		RunCmd:         strs11(a.RunCmd),
	}
	for _, t := range sortedKeys(a.HostKeys) {
		k := a.HostKeys[t]
		cc.SSHKeys = append(cc.SSHKeys,
			yaml.MapItem{Key: t + "_private", Value: strings.TrimSpace(k.Private) + "\n"},
			yaml.MapItem{Key: t + "_public", Value: str11(strings.TrimSpace(k.Public))})
	}
	for _, f := range a.WriteFiles {
		w := cloudWriteFile{Path: str11(f.Path), Content: str11(f.Content), Permissions: str11(f.Permissions), Owner: str11(f.Owner)}
		switch {
		case !utf8.ValidString(f.Content):
			w.Encoding, w.Content = "b64", str11(base64.StdEncoding.EncodeToString([]byte(f.Content)))
		case strings.HasSuffix(f.Content, "\n"):
			w.Content = f.Content
		}
		// write_files runs before users are created; a file for the
		// user waits for the end of the boot.
		if owner, _, _ := strings.Cut(f.Owner, ":"); owner != "" && owner != "root" {
			w.Defer = true
		}
		cc.WriteFiles = append(cc.WriteFiles, w)
	}
	body, err := encode(cc)
	if err != nil {
		return nil, fmt.Errorf("seed: user-data: %w", err)
	}
	return append([]byte("#cloud-config\n"), body...), nil
}

// MetaData renders the NoCloud meta-data: instance-id and local-hostname.
func MetaData(a Args) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	id, err := instanceID(a)
	if err != nil {
		return nil, err
	}
	b, err := encode(yaml.MapSlice{
		{Key: "instance-id", Value: str11(id)},
		{Key: "local-hostname", Value: str11(a.Hostname)},
	})
	if err != nil {
		return nil, fmt.Errorf("seed: meta-data: %w", err)
	}
	return b, nil
}

// NetworkConfig renders network-config version 2: the NIC with Args.MAC,
// renamed to Args.InterfaceName, configured by DHCPv4.
func NetworkConfig(a Args) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	a = a.withDefaults()
	mac, _ := net.ParseMAC(a.MAC)
	b, err := encode(yaml.MapSlice{
		{Key: "version", Value: 2},
		{Key: "ethernets", Value: yaml.MapSlice{
			{Key: a.InterfaceName, Value: yaml.MapSlice{
				{Key: "match", Value: yaml.MapSlice{{Key: "macaddress", Value: str11(mac.String())}}},
				{Key: "set-name", Value: str11(a.InterfaceName)},
				{Key: "dhcp4", Value: true},
			}},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("seed: network-config: %w", err)
	}
	return b, nil
}

// instanceID is a.InstanceID, or a digest of the rest of the seed.
func instanceID(a Args) (string, error) {
	if a.InstanceID != "" {
		return a.InstanceID, nil
	}
	ud, err := UserData(a)
	if err != nil {
		return "", err
	}
	nc, err := NetworkConfig(a)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, part := range [][]byte{ud, nc, []byte(a.Hostname)} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return "iid-" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (a Args) withDefaults() Args {
	if a.InterfaceName == "" {
		a.InterfaceName = DefaultInterfaceName
	}
	if a.Shell == "" {
		a.Shell = DefaultShell
	}
	if len(a.SSHHostKeyTypes) == 0 {
		a.SSHHostKeyTypes = DefaultSSHHostKeyTypes
	}
	return a
}

func encode(v any) ([]byte, error) {
	return yaml.MarshalWithOptions(v, yaml.Indent(2), yaml.IndentSequence(true), yaml.UseLiteralStyleIfMultiline(true))
}

func trimAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
