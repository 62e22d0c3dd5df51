package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/deskvm/deskvm/internal/qemu"
)

// Manifest describes a built image: what went in (by digest), what came
// out, how long each step took and with which tools. NAME.manifest.json.
type Manifest struct {
	Name         string        `json:"name"`
	Kind         string        `json:"kind"`
	RecipeDigest string        `json:"recipeDigest"`
	CacheKey     string        `json:"cacheKey"`
	Inputs       []InputRecord `json:"inputs"`
	Output       OutputRecord  `json:"output"`
	Steps        []StepTime    `json:"steps"`
	Tools        Tools         `json:"tools"`
	BuiltAt      time.Time     `json:"builtAt"`
	// Boot is what `deskvm image check` and NAME.run need to boot the
	// image again the way it was built.
	Boot BootRecord `json:"boot"`
}

// InputRecord names one input by digest.
type InputRecord struct {
	Name   string `json:"name"`
	URL    string `json:"url,omitempty"`
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size,omitempty"`
}

// OutputRecord is the image file.
type OutputRecord struct {
	File        string `json:"file"` // relative to the manifest
	Format      string `json:"format"`
	SHA256      string `json:"sha256"`
	VirtualSize int64  `json:"virtualSize"`
	Size        int64  `json:"size"`
}

// BootRecord is how the image boots.
type BootRecord struct {
	Firmware  string `json:"firmware"`
	EFIVars   string `json:"efiVars,omitempty"` // relative to the manifest
	MemoryMiB int    `json:"memoryMiB"`
	CPUs      int    `json:"cpus"`
	Username  string `json:"username"`
	Hostname  string `json:"hostname,omitempty"`
	// SSHKey is the generated private key, relative to the manifest;
	// empty when the recipe gave its own public key.
	SSHKey      string `json:"sshKey,omitempty"`
	Health      Health `json:"health"`
	Generalized bool   `json:"generalized"`
	// TPM is the swtpm state directory (NAME.tpm/) of a Windows image
	// built with enableTpm, relative to the manifest.
	TPM        string `json:"tpm,omitempty"`
	SecureBoot bool   `json:"secureBoot,omitempty"`
	// Edition is the Windows edition installed ("2 Windows 11 Pro").
	Edition string `json:"edition,omitempty"`
}

// Tools are the versions a build depends on; they are part of the cache key.
type Tools struct {
	Deskvm     string `json:"deskvm"`
	QEMU       string `json:"qemu"`
	QEMUImg    string `json:"qemuImg"`
	OVMF       string `json:"ovmf,omitempty"`
	OVMFSHA256 string `json:"ovmfSha256,omitempty"`
}

// Outputs are the files of a build in OUT.
type Outputs struct {
	Dir, Name string
}

func (o Outputs) Image() string    { return filepath.Join(o.Dir, o.Name+".qcow2") }
func (o Outputs) Manifest() string { return filepath.Join(o.Dir, o.Name+".manifest.json") }
func (o Outputs) Run() string      { return filepath.Join(o.Dir, o.Name+".run") }
func (o Outputs) SSHDir() string   { return filepath.Join(o.Dir, o.Name+".ssh") }
func (o Outputs) EFIVars() string  { return filepath.Join(o.Dir, o.Name+".efivars.fd") }
func (o Outputs) TPMDir() string   { return filepath.Join(o.Dir, o.Name+".tpm") }

// AutomationDir keeps a failed automationConfig run's debug output.
func (o Outputs) AutomationDir() string { return filepath.Join(o.Dir, o.Name+".automation") }
func (o Outputs) FailedScreen() string {
	return filepath.Join(o.Dir, o.Name+".failed-screen.png")
}

// toolVersions asks the tools for their versions (tens of milliseconds)
// and hashes the OVMF code image the build boots (a few MB).
func toolVersions(ctx context.Context, deskvm, firmware, ovmfCode string) (Tools, error) {
	t := Tools{Deskvm: deskvm}
	first := func(name string, args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, name, args...).Output()
		if err != nil {
			return "", fmt.Errorf("%s --version: %w", name, err)
		}
		line, _, _ := strings.Cut(string(out), "\n")
		return strings.TrimSpace(line), nil
	}
	var err error
	if t.QEMU, err = first("qemu-system-x86_64", "--version"); err != nil {
		return t, err
	}
	if t.QEMUImg, err = first("qemu-img", "--version"); err != nil {
		return t, err
	}
	if firmware == "uefi" && ovmfCode != "" {
		t.OVMF = ovmfCode
		if t.OVMFSHA256, err = qemu.FileSHA256(ovmfCode); err != nil {
			return t, fmt.Errorf("ovmf: %w", err)
		}
	}
	return t, nil
}

// cacheKey is the digest of everything that decides the output.
func cacheKey(recipeDigest string, inputs []InputRecord, tools Tools) string {
	type in struct{ Name, SHA256 string }
	k := struct {
		Recipe string
		Inputs []in
		Tools  Tools
	}{Recipe: recipeDigest, Tools: tools}
	for _, i := range inputs {
		k.Inputs = append(k.Inputs, in{i.Name, i.SHA256})
	}
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// outputRecord remembers the image's size and modification time when its
// sha256 was computed, so a cache hit does not read gigabytes again.
type outputRecord struct {
	Path      string `json:"path"`
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
	ModTimeNs int64  `json:"modTimeNs"`
}

func recordPath(cacheDir, image string) string {
	sum := sha256.Sum256([]byte(image))
	return filepath.Join(cacheDir, "builds", hex.EncodeToString(sum[:16])+".json")
}

func writeOutputRecord(cacheDir, image, digest string) error {
	st, err := os.Stat(image)
	if err != nil {
		return err
	}
	rec := outputRecord{Path: image, SHA256: digest, Size: st.Size(), ModTimeNs: st.ModTime().UnixNano()}
	b, _ := json.MarshalIndent(rec, "", "  ")
	p := recordPath(cacheDir, image)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(p, b, 0o644)
}

// imageDigest is the image's sha256, from the record when the file is
// unchanged since, else by reading it.
func imageDigest(cacheDir, image string) (digest string, fromRecord bool, err error) {
	st, err := os.Stat(image)
	if err != nil {
		return "", false, err
	}
	if b, err := os.ReadFile(recordPath(cacheDir, image)); err == nil {
		var rec outputRecord
		if json.Unmarshal(b, &rec) == nil && rec.Path == image && rec.Size == st.Size() && rec.ModTimeNs == st.ModTime().UnixNano() && rec.SHA256 != "" {
			return rec.SHA256, true, nil
		}
	}
	d, err := fileSHA256(image)
	return d, false, err
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ReadManifest reads NAME.manifest.json.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if m.Output.File == "" {
		return nil, fmt.Errorf("manifest %s: no output file", path)
	}
	return &m, nil
}

// writeFileAtomic writes a sibling temporary file and renames it.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// qemuImgInfo reads an image's format and sizes.
type imgInfo struct {
	Format      string `json:"format"`
	VirtualSize int64  `json:"virtual-size"`
	ActualSize  int64  `json:"actual-size"`
}

func qemuImgInfo(ctx context.Context, path string) (imgInfo, error) {
	out, err := exec.CommandContext(ctx, "qemu-img", "info", "--output=json", "-U", path).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return imgInfo{}, fmt.Errorf("qemu-img info %s: %s", path, strings.TrimSpace(string(ee.Stderr)))
		}
		return imgInfo{}, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	var info imgInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return imgInfo{}, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	return info, nil
}

func runTool(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", name, ctx.Err())
		}
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// runScript is NAME.run: it boots the image with the build's devices
// (same command-line builder), on a throw-away snapshot, SSH on
// 127.0.0.1:${SSH_PORT:-2222}. Paths are relative to the script.
func runScript(m qemu.Machine, name string) (string, error) {
	const varsMark, portMark = "@VARS@", "65000"
	if m.Firmware.UEFI {
		m.Firmware.Vars = varsMark
	}
	for i := range m.NICs {
		for j := range m.NICs[i].Forwards {
			m.NICs[i].Forwards[j].HostPort = 65000
		}
	}
	args, err := m.Args()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# Boots %s.qcow2 as deskvm built it. Writes go to a throw-away snapshot;\n", name)
	b.WriteString("# SSH: ssh -p ${SSH_PORT:-2222} USER@127.0.0.1. Extra arguments go to QEMU.\n")
	b.WriteString("set -eu\ncd \"$(dirname \"$0\")\"\nSSH_PORT=${SSH_PORT:-2222}\n")
	if m.Firmware.UEFI {
		fmt.Fprintf(&b, "vars=$(mktemp)\ntrap 'rm -f \"$vars\"' EXIT\ncp %s.efivars.fd \"$vars\"\n", shellQuote(name))
	}
	b.WriteString(shellQuote(m.BinaryPath()))
	for _, a := range args {
		b.WriteString(" \\\n  ")
		a = strings.ReplaceAll(a, "hostfwd=tcp:127.0.0.1:"+portMark+"-", "hostfwd=tcp:127.0.0.1:"+"\x00PORT\x00"+"-")
		b.WriteString(shellWords(a, map[string]string{varsMark: `"$vars"`, "\x00PORT\x00": `"$SSH_PORT"`}))
	}
	b.WriteString(" \\\n  \"$@\"\n")
	return b.String(), nil
}

// shellWords quotes s, putting the shell expressions of marks in place.
func shellWords(s string, marks map[string]string) string {
	for mark, expr := range marks {
		if before, after, ok := strings.Cut(s, mark); ok {
			return shellWords(before, marks) + expr + shellWords(after, marks)
		}
	}
	if s == "" {
		return ""
	}
	return shellQuote(s)
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// HumanBytes writes a byte count for messages (2.0G, 512.5M).
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%c", float64(n)/float64(div), "KMGTPE"[exp])
}
