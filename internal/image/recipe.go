// Package image builds VM images from recipes: a pipeline of named steps
// (fetch, prepare the disk, make the seed, boot QEMU, wait for SSH and
// cloud-init, check, generalize, power off, compact, write the outputs)
// with a cleanup stack that runs on error, timeout and Ctrl-C.
//
// recipe.go holds the recipe types, their defaults and validation; the
// recipe is loaded through the shared positioned loader (yamlsrc), so a
// mistake reads "file:line:col: field: what". pipeline.go is the step
// runner, linux.go the Linux cloud-image builder, outputs.go the
// manifest, run script and cache.
package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/deskvm/deskvm/internal/units"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// Recipe kinds.
const (
	KindLinux   = "linux"
	KindWindows = "windows"
	KindMacOS   = "macos"
)

// Recipe is an image recipe. Field names (json tags) are the file's keys.
type Recipe struct {
	Name         string     `json:"name" jsonschema:"description=Image name: the outputs are NAME.qcow2\\, NAME.manifest.json\\, NAME.run and NAME.ssh/. Lower-case letters\\, digits\\, dot\\, dash and underscore."`
	Kind         string     `json:"kind,omitempty" jsonschema:"enum=linux,enum=windows,enum=macos,description=What is built: linux (a cloud image configured by cloud-init; default)\\, windows or macos."`
	Memory       Memory     `json:"memory,omitempty" jsonschema:"type=string,description=Memory of the build VM: a number of MiB (2048) or a size (2G). Default 2048 MiB for linux\\, 4096 MiB otherwise."`
	CPUs         int        `json:"cpus,omitempty" jsonschema:"minimum=0,maximum=64,description=vCPUs of the build VM. Default 2."`
	DiskSize     units.Size `json:"diskSize,omitempty" jsonschema:"type=string,description=Virtual size of the image's disk (grown from the cloud image; never shrunk). Default 20G for linux."`
	SSHPort      int        `json:"sshPort,omitempty" jsonschema:"minimum=0,maximum=65535,description=Host port forwarded to the build VM's SSH\\, bound to 127.0.0.1 only. Default: a free port."`
	Username     string     `json:"username,omitempty" jsonschema:"description=The user created in the image\\, with passwordless sudo; the build logs in as this user. Default deskvm."`
	SSHPublicKey string     `json:"sshPublicKey,omitempty" jsonschema:"description=The user's SSH public key: the key itself (ssh-ed25519 AAAA…) or a file (~/.ssh/id_ed25519.pub; relative to the recipe). When unset a key pair is generated per build into OUT/NAME.ssh/."`
	Firmware     string     `json:"firmware,omitempty" jsonschema:"enum=uefi,enum=bios,description=Boot firmware of the build VM: uefi (OVMF; default) or bios (SeaBIOS)."`
	Health       *Health    `json:"health,omitempty" jsonschema:"description=The health check run over SSH at the end of the build and by deskvm image check."`

	// Linux.
	CloudImage  *Input      `json:"cloudImage,omitempty" kinds:"linux" jsonschema:"description=(linux; required) The cloud image to start from: {url\\, sha256} downloaded into the cache\\, or {path} of a local qcow2/raw file."`
	Hostname    string      `json:"hostname,omitempty" kinds:"linux" jsonschema:"description=(linux; required) The guest's host name."`
	Packages    []string    `json:"packages,omitempty" kinds:"linux" jsonschema:"description=(linux) Packages cloud-init installs; needs a package mirror reachable from the guest. Checked with dpkg-query or rpm after the build."`
	RunCmd      []string    `json:"runcmd,omitempty" kinds:"linux" jsonschema:"description=(linux) Shell commands cloud-init runs once at the end of the first boot\\, as root."`
	WriteFiles  []WriteFile `json:"writeFiles,omitempty" kinds:"linux" jsonschema:"description=(linux) Files cloud-init writes; each is checked over SSH after the build."`
	InstallNix  bool        `json:"installNix,omitempty" kinds:"linux" jsonschema:"description=(linux) Install Nix from the distribution's packages (nix-bin and nix-setup-systemd: a multi-user nix-daemon) and add the user to the nix-users group; needs a package mirror reachable from the guest. Checked after the build by evaluating a Nix expression as the user through the daemon. Default false."`
	Finalize    *bool       `json:"finalize,omitempty" kinds:"linux" jsonschema:"description=(linux) Generalize the image before it is saved: clean cloud-init's state and logs\\, empty /etc/machine-id\\, remove the SSH host keys. Default true."`
	BootTimeout Duration    `json:"bootTimeout,omitzero" kinds:"linux" jsonschema:"type=string,description=How long the first boot may take until SSH answers and cloud-init is done (Go duration: 20m\\, 1h). Default 20m."`

	// Windows.
	WindowsISO       *Input   `json:"windowsIso,omitempty" kinds:"windows" jsonschema:"description=(windows; required) The Windows install ISO: {url\\, sha256} or {path}. Checked without mounting (deskvm image validate-iso)."`
	VirtioDriversISO *Input   `json:"virtioDriversIso,omitempty" kinds:"windows" jsonschema:"description=(windows; required) The virtio-win driver ISO (a versioned release\\, never the rolling stable URL): {url\\, sha256} or {path}. The driver folders the answer file names must be on it."`
	Edition          string   `json:"edition,omitempty" kinds:"windows" jsonschema:"description=(windows) The edition to install by name as deskvm image validate-iso lists it (Windows 11 Pro); case-insensitive. Set edition or imageIndex."`
	ImageIndex       int      `json:"imageIndex,omitempty" kinds:"windows" jsonschema:"minimum=0,description=(windows) The edition to install by its index in install.wim/install.esd."`
	ComputerName     string   `json:"computerName,omitempty" kinds:"windows" jsonschema:"description=(windows) Computer name: 1-15 letters\\, digits or '-'. Default WIN-AGENT."`
	Timezone         string   `json:"timezone,omitempty" kinds:"windows" jsonschema:"description=(windows) Windows time zone ID (UTC\\, W. Europe Standard Time). Default UTC."`
	Locale           string   `json:"locale,omitempty" kinds:"windows" jsonschema:"description=(windows) Locale of the install and its keyboard (en-US). Default en-US."`
	ProductKey       Secret   `json:"productKey,omitempty" kinds:"windows" jsonschema:"type=string,description=(windows) Product key (XXXXX-XXXXX-XXXXX-XXXXX-XXXXX); left out of the answer file when unset. Never logged."`
	EnableTPM        *bool    `json:"enableTpm,omitempty" kinds:"windows" jsonschema:"description=(windows) A TPM 2.0 (swtpm) for the VM; its state is kept as NAME.tpm/. Default true."`
	SecureBoot       *bool    `json:"secureBoot,omitempty" kinds:"windows" jsonschema:"description=(windows) OVMF with secure boot and Microsoft's keys enrolled. Default true."`
	AnswerMedia      string   `json:"answerMedia,omitempty" kinds:"windows" jsonschema:"enum=iso,enum=floppy,description=(windows) Where autounattend.xml is put: a small ISO (default) or a FAT floppy."`
	InstallTimeout   Duration `json:"installTimeout,omitzero" kinds:"windows" jsonschema:"type=string,description=(windows) How long Setup may take until SSH answers (Go duration). Default 1h."`
	RDPPort          int      `json:"rdpPort,omitempty" kinds:"windows" jsonschema:"minimum=0,maximum=65535,description=(windows) Host port forwarded to the build VM's RDP (3389)\\, on 127.0.0.1 only. Default: none."`

	// Windows and macOS.
	Password         Secret `json:"password,omitempty" kinds:"windows,macos" jsonschema:"type=string,description=(windows\\, macos) The user's password. It reaches only the answer media the guest reads; never logs\\, plan output or the manifest. Prefer passwordFile."`
	PasswordFile     string `json:"passwordFile,omitempty" kinds:"windows,macos" jsonschema:"description=(windows\\, macos) A file holding the password (its first line; relative to the recipe). Give password or passwordFile."`
	AutomationConfig string `json:"automationConfig,omitempty" kinds:"windows,macos" jsonschema:"description=(windows\\, macos; required for macos) A deskvm automation script (relative to the recipe) run over the build VM's VNC: during/after Setup on Windows\\, the Setup Assistant on macOS."`

	// macOS.
	BaseSystem *BaseSystem `json:"baseSystem,omitempty" kinds:"macos" jsonschema:"description=(macos; required) The recovery image: {release} resolved through Apple's recovery service\\, or {url\\, sha256} / {path} of a BaseSystem.dmg."`
	OpenCore   *LocalFile  `json:"openCore,omitempty" kinds:"macos" jsonschema:"description=(macos; required) Your OpenCore disk image; deskvm never downloads one."`
}

// BaseSystem is a macOS recovery image: a release name or a file.
type BaseSystem struct {
	Release string `json:"release,omitempty" jsonschema:"description=A release of deskvm's pinned table (sonoma\\, sequoia\\, …)\\, downloaded from Apple's recovery service with its chunklist verified."`
	URL     string `json:"url,omitempty" jsonschema:"description=https or http URL of a BaseSystem.dmg."`
	SHA256  string `json:"sha256,omitempty" jsonschema:"description=Its sha256 (64 hex digits); required with url."`
	Path    string `json:"path,omitempty" jsonschema:"description=A local BaseSystem.dmg; relative to the recipe."`
}

// LocalFile is a file the user supplies.
type LocalFile struct {
	Path string `json:"path" jsonschema:"description=The file; relative to the recipe."`
}

// Secret is a recipe value that must not be shown: printing it gives
// "(secret)" and its JSON (the canonical recipe, hashed into the digest)
// carries a sha256 of it, never the text.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "(secret)"
}

// GoString hides the value from %#v too.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON writes a digest, so a changed password changes the recipe
// digest without the password being in any file deskvm writes.
func (s Secret) MarshalJSON() ([]byte, error) {
	if s == "" {
		return json.Marshal("")
	}
	return json.Marshal("sha256:" + sha256Hex([]byte("deskvm-secret\x00"+string(s))))
}

// Input is a file the build starts from: a download pinned by digest or
// a local file (hashed too, so the manifest names it by digest).
type Input struct {
	URL    string `json:"url,omitempty" jsonschema:"description=https or http URL of a versioned file (never a rolling one)."`
	SHA256 string `json:"sha256,omitempty" jsonschema:"description=Expected sha256 of the download (64 hex digits); required with url."`
	Path   string `json:"path,omitempty" jsonschema:"description=A local file instead of url; relative to the recipe."`
}

// WriteFile is a file cloud-init writes into the image.
type WriteFile struct {
	Path        string `json:"path" jsonschema:"description=Absolute path in the guest."`
	Content     string `json:"content" jsonschema:"description=The file's content."`
	Permissions string `json:"permissions,omitempty" jsonschema:"description=Octal mode such as 0644 (default 0644)."`
	Owner       string `json:"owner,omitempty" jsonschema:"description=user:group (default root:root)."`
}

// Health is the check that proves a built image works, run over SSH as
// the recipe's user with the build key (the same shape as an automation
// script's health check, without the connection details the builder
// knows).
type Health struct {
	Command string   `json:"command,omitempty" jsonschema:"description=Shell command run over SSH; it must exit 0. Default: systemctl is-system-running --wait (running or degraded pass)."`
	Expect  string   `json:"expect,omitempty" jsonschema:"description=Text the command's output must contain."`
	Timeout Duration `json:"timeout,omitzero" jsonschema:"type=string,description=Time for one attempt (Go duration). Default 5m."`
	Retries int      `json:"retries,omitempty" jsonschema:"minimum=0,description=Attempts after the first failed one. Default 2."`
}

// Defaults.
const (
	DefaultUsername      = "deskvm"
	DefaultCPUs          = 2
	DefaultHealthCommand = `state=$(systemctl is-system-running --wait); echo "$state"; [ "$state" = running ] || [ "$state" = degraded ]`
)

// DefaultWindowsHealthCommand is the Windows health check: OpenSSH
// Server, which the answer file installs from the capability, runs.
const DefaultWindowsHealthCommand = `powershell -NoProfile -Command "(Get-Service sshd).Status"`

var (
	defaultLinuxDisk   = units.MustParseSize("20G")
	defaultWindowsDisk = units.MustParseSize("64G")
	defaultMacOSDisk   = units.MustParseSize("50G")
	// minWindowsDisk is what Windows 11 Setup requires.
	minWindowsDisk = units.MustParseSize("40G")
	// DefaultInstallTimeout is the time Windows Setup gets until SSH
	// answers (with KVM it takes 15-30 minutes).
	DefaultInstallTimeout = time.Hour
	// DefaultBootTimeout covers the first boot under TCG (SSH after
	// 48-73 s, cloud-init done after 59-84 s measured) many times over.
	DefaultBootTimeout   = 20 * time.Minute
	DefaultHealthTimeout = 5 * time.Minute
)

// Memory is the build VM's memory: a bare number of MiB (2048, as the
// reference module's recipes write it) or a size with a unit (2G).
type Memory struct{ MiB int }

// DecodeNode reads 2048 or "2G".
func (m *Memory) DecodeNode(n yamlsrc.Node) {
	if k := n.Kind(); k != yamlsrc.KindInt && k != yamlsrc.KindString {
		n.Errorf("expected a number of MiB or a size like 2G, got %s", n.Describe())
		return
	}
	text := n.Text()
	if i, err := strconv.Atoi(text); err == nil {
		m.MiB = i
		return
	}
	s, err := units.ParseSize(text)
	if err != nil {
		n.Errorf("%v, or a number of MiB", err)
		return
	}
	if s.Bytes()%(1<<20) != 0 {
		n.Errorf("%s is not a whole number of MiB", text)
		return
	}
	m.MiB = int(s.Bytes() >> 20)
}

// MarshalJSON writes the MiB.
func (m Memory) MarshalJSON() ([]byte, error) { return json.Marshal(m.MiB) }

// Duration is a Go duration written as text (5m, 1h30m).
type Duration struct{ time.Duration }

// UnmarshalText reads a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a Go duration like 90s, 5m or 1h", string(b))
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration.
func (d Duration) MarshalText() ([]byte, error) {
	if d.Duration == 0 {
		return []byte{}, nil
	}
	return []byte(d.Duration.String()), nil
}

// IsZero is for omitzero/omitempty.
func (d Duration) IsZero() bool { return d.Duration == 0 }

// Source is a loaded recipe: where it came from and its document, for
// positions of later problems.
type Source struct {
	Path string // as given
	Dir  string // absolute directory, base of relative paths
	Doc  *yamlsrc.Doc
	Data []byte
}

// LoadFile reads, defaults and validates a recipe. Every problem is
// returned at once as yamlsrc.Problems ("file:line:col: field: what").
func LoadFile(path string) (*Recipe, *Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("recipe: %w", err)
	}
	return Load(path, data)
}

// Load reads a recipe from data; name is the file name for positions and
// the base of relative paths.
func Load(name string, data []byte) (*Recipe, *Source, error) {
	var r Recipe
	doc, err := yamlsrc.Load(name, data, &r, yamlsrc.What("recipe"))
	dir, aerr := filepath.Abs(filepath.Dir(name))
	if aerr != nil {
		return nil, nil, fmt.Errorf("recipe %s: %w", name, aerr)
	}
	src := &Source{Path: name, Dir: dir, Doc: doc, Data: data}
	var ps yamlsrc.Problems
	if err != nil {
		if !errors.As(err, &ps) {
			return nil, src, err
		}
		if doc.File == nil {
			return nil, src, ps
		}
	}
	r.ApplyDefaults()
	ps = append(ps, doc.Locate(r.Validate())...)
	ps.SortByPos()
	if err := ps.Err(); err != nil {
		return nil, src, err
	}
	return &r, src, nil
}

// ApplyDefaults fills what the recipe leaves out; the one place defaults live.
func (r *Recipe) ApplyDefaults() {
	if r.Kind == "" {
		r.Kind = KindLinux
	}
	if r.Memory.MiB == 0 {
		r.Memory.MiB = 4096
		if r.Kind == KindLinux {
			r.Memory.MiB = 2048
		}
	}
	if r.CPUs == 0 {
		r.CPUs = DefaultCPUs
	}
	if !r.DiskSize.IsSet() {
		switch r.Kind {
		case KindLinux:
			r.DiskSize = defaultLinuxDisk
		case KindWindows:
			r.DiskSize = defaultWindowsDisk
		case KindMacOS:
			r.DiskSize = defaultMacOSDisk
		}
	}
	if r.Username == "" {
		r.Username = DefaultUsername
	}
	if r.Firmware == "" {
		r.Firmware = "uefi"
	}
	if r.Health == nil {
		r.Health = &Health{}
	}
	if r.Health.Command == "" {
		r.Health.Command = DefaultHealthCommand
		if r.Kind == KindWindows {
			r.Health.Command, r.Health.Expect = DefaultWindowsHealthCommand, "Running"
		}
	}
	if r.Health.Timeout.Duration == 0 {
		r.Health.Timeout.Duration = DefaultHealthTimeout
	}
	if r.Health.Retries == 0 {
		r.Health.Retries = 2
	}
	if r.Kind == KindWindows {
		t := true
		if r.EnableTPM == nil {
			r.EnableTPM = &t
		}
		if r.SecureBoot == nil {
			r.SecureBoot = &t
		}
		if r.ComputerName == "" {
			r.ComputerName = "WIN-AGENT"
		}
		if r.Timezone == "" {
			r.Timezone = "UTC"
		}
		if r.Locale == "" {
			r.Locale = "en-US"
		}
		if r.AnswerMedia == "" {
			r.AnswerMedia = "iso"
		}
		if r.InstallTimeout.Duration == 0 {
			r.InstallTimeout.Duration = DefaultInstallTimeout
		}
	}
	if r.Kind == KindLinux {
		if r.Finalize == nil {
			t := true
			r.Finalize = &t
		}
		if r.BootTimeout.Duration == 0 {
			r.BootTimeout.Duration = DefaultBootTimeout
		}
		for i := range r.WriteFiles {
			if r.WriteFiles[i].Permissions == "" {
				r.WriteFiles[i].Permissions = "0644"
			}
		}
	}
}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
	userRE     = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	sha256RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	octalRE    = regexp.MustCompile(`^0?[0-7]{3,4}$`)
)

// Validate checks a defaulted recipe and returns every problem by field path.
func (r *Recipe) Validate() yamlsrc.Problems {
	var ps yamlsrc.Problems
	bad := func(path, format string, a ...any) { ps = append(ps, yamlsrc.Errorf(path, format, a...)) }
	if r.Name == "" {
		bad("name", "a recipe needs a name")
	} else if !nameRE.MatchString(r.Name) {
		bad("name", "%q: use lower-case letters, digits, '.', '-' and '_' (it names the output files)", r.Name)
	}
	switch r.Kind {
	case KindLinux, KindWindows, KindMacOS:
		ps = append(ps, r.wrongKindKeys()...)
	default:
		bad("kind", "%q: want linux, windows or macos", r.Kind)
	}
	if r.Memory.MiB < 256 {
		bad("memory", "%d MiB is too little for a build VM (at least 256)", r.Memory.MiB)
	}
	if r.CPUs < 1 || r.CPUs > 64 {
		bad("cpus", "%d: want 1 to 64", r.CPUs)
	}
	if r.DiskSize.IsSet() && r.DiskSize.Bytes() < 1<<30 {
		bad("diskSize", "%s is smaller than 1G", r.DiskSize)
	}
	if r.SSHPort < 0 || r.SSHPort > 65535 {
		bad("sshPort", "%d: want 1-65535, or leave it out for a free port", r.SSHPort)
	}
	if r.Kind == KindWindows {
		// Windows account names: unattend's rules, checked below.
	} else if !userRE.MatchString(r.Username) || r.Username == "root" {
		bad("username", "%q is not a user name a build can create (lower case, digits, _ and -, not root)", r.Username)
	}
	if r.Firmware != "uefi" && r.Firmware != "bios" {
		bad("firmware", "%q: want uefi or bios", r.Firmware)
	}
	if h := r.Health; h != nil {
		if strings.TrimSpace(h.Command) == "" {
			bad("health.command", "is empty")
		}
		if h.Timeout.Duration < 0 {
			bad("health.timeout", "must be positive")
		}
		if h.Retries < 0 {
			bad("health.retries", "must not be negative")
		}
	}
	switch r.Kind {
	case KindWindows:
		return append(ps, r.validateWindows()...)
	case KindMacOS:
		return append(ps, r.validateMacOS()...)
	case KindLinux:
	default:
		return ps
	}
	if r.CloudImage == nil {
		bad("cloudImage", "a linux recipe needs cloudImage: {url, sha256} or {path}")
	} else {
		ps = append(ps, r.CloudImage.validate("cloudImage")...)
	}
	if r.Hostname == "" {
		bad("hostname", "a linux recipe needs a hostname")
	} else if !hostnameRE.MatchString(r.Hostname) {
		bad("hostname", "%q is not a host name (letters, digits and '-', at most 63)", r.Hostname)
	}
	if r.BootTimeout.Duration < 0 {
		bad("bootTimeout", "must be positive")
	}
	for i, p := range r.Packages {
		if strings.TrimSpace(p) == "" || strings.ContainsAny(p, " \t\n'\"`$;") {
			bad(fmt.Sprintf("packages[%d]", i), "%q is not a package name", p)
		}
	}
	for i, c := range r.RunCmd {
		if strings.TrimSpace(c) == "" {
			bad(fmt.Sprintf("runcmd[%d]", i), "is empty")
		}
	}
	seen := map[string]int{}
	for i, f := range r.WriteFiles {
		p := fmt.Sprintf("writeFiles[%d]", i)
		if !strings.HasPrefix(f.Path, "/") || strings.Contains(f.Path, "\n") {
			bad(p+".path", "%q: want an absolute path in the guest", f.Path)
		} else if j, dup := seen[filepath.Clean(f.Path)]; dup {
			bad(p+".path", "%s is written by writeFiles[%d] already", f.Path, j)
		} else {
			seen[filepath.Clean(f.Path)] = i
		}
		if !octalRE.MatchString(f.Permissions) {
			bad(p+".permissions", "%q: want an octal mode like 0644", f.Permissions)
		}
		if f.Owner != "" && !regexp.MustCompile(`^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$`).MatchString(f.Owner) {
			bad(p+".owner", "%q: want user or user:group", f.Owner)
		}
	}
	return ps
}

func (in *Input) validate(path string) yamlsrc.Problems {
	var ps yamlsrc.Problems
	bad := func(p, format string, a ...any) { ps = append(ps, yamlsrc.Errorf(p, format, a...)) }
	switch {
	case in.URL != "" && in.Path != "":
		bad(path, "give url or path, not both")
	case in.URL == "" && in.Path == "":
		bad(path, "give url (with sha256) or path")
	case in.URL != "":
		if !strings.HasPrefix(in.URL, "https://") && !strings.HasPrefix(in.URL, "http://") {
			bad(path+".url", "%q: want an http or https URL", in.URL)
		}
		if in.SHA256 == "" {
			bad(path+".sha256", "a download needs its sha256 (64 hex digits)")
		}
	}
	if in.SHA256 != "" && !sha256RE.MatchString(in.SHA256) {
		bad(path+".sha256", "%q: want 64 lower-case hex digits", in.SHA256)
	}
	return ps
}

// ResolvePath makes p absolute against the recipe's directory and
// expands ~/.
func (s *Source) ResolvePath(p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.Dir, p)
	}
	return p
}

// Problem returns a positioned error about field path, for what is found
// wrong after loading (an unreadable key file, say).
func (s *Source) Problem(path, format string, a ...any) error {
	ps := yamlsrc.Problems{yamlsrc.Errorf(path, format, a...)}
	if s != nil && s.Doc != nil {
		ps = s.Doc.Locate(ps)
	}
	return ps
}

// Canonical is the defaulted recipe as compact JSON with local paths made
// absolute: the same recipe written differently (YAML or JSON, keys in
// another order, defaults spelt out) gives the same bytes.
func (r *Recipe) Canonical(src *Source) ([]byte, error) {
	c := *r
	if c.CloudImage != nil {
		in := *c.CloudImage
		if in.Path != "" && src != nil {
			in.Path = src.ResolvePath(in.Path)
		}
		c.CloudImage = &in
	}
	if c.SSHPublicKey != "" && !looksLikeKey(c.SSHPublicKey) && src != nil {
		c.SSHPublicKey = src.ResolvePath(c.SSHPublicKey)
	}
	c.canonicalKinds(src)
	// The host port changes nothing in the image.
	c.SSHPort = 0
	return json.Marshal(c)
}

// Digest is the sha256 of Canonical.
func (r *Recipe) Digest(src *Source) (string, error) {
	b, err := r.Canonical(src)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// looksLikeKey tells an inline public key from a file name.
func looksLikeKey(s string) bool {
	for _, p := range []string{"ssh-", "ecdsa-sha2-", "sk-"} {
		if strings.HasPrefix(strings.TrimSpace(s), p) {
			return true
		}
	}
	return false
}
