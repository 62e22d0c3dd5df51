package seed

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"

	"github.com/deskvm/deskvm/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fullArgs uses every field.
func fullArgs(t *testing.T) Args {
	return Args{
		InstanceID:        "iid-golden-1",
		Hostname:          "devbox",
		Username:          "dev",
		SSHAuthorizedKeys: []string{readTestdata(t, "user_ed25519.pub")},
		MAC:               "52:54:00:AB:CD:EF",
		InterfaceName:     "lan0",
		Shell:             "/bin/sh",
		SSHHostKeyTypes:   []string{"ed25519", "ecdsa"},
		HostKeys: map[string]HostKey{"ed25519": {
			Private: readTestdata(t, "host_ed25519"),
			Public:  readTestdata(t, "host_ed25519.pub"),
		}},
		Packages: []string{"htop", "curl"},
		WriteFiles: []File{
			{Path: "/etc/motd", Content: "hello\n", Permissions: "0644"},
			{Path: "/home/dev/notes.txt", Content: "line 1\nline 2: with a colon\n# not a comment\n", Owner: "dev:dev", Permissions: "0600"},
			{Path: "/var/lib/blob", Content: "\xff\x00binary"},
			{Path: "/etc/quoted", Content: "yes"},
		},
		RunCmd: []string{"touch /var/lib/built-by-deskvm", `echo "it's: done" > /tmp/out # and a comment`},
	}
}

func minimalArgs(t *testing.T) Args {
	return Args{
		Hostname:          "box",
		Username:          "user",
		SSHAuthorizedKeys: []string{readTestdata(t, "user_ed25519.pub")},
		MAC:               "52:54:00:12:34:56",
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", name, diff)
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args Args
	}{{"full", fullArgs(t)}, {"minimal", minimalArgs(t)}} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []struct {
				file   string
				render func(Args) ([]byte, error)
			}{{"user-data", UserData}, {"meta-data", MetaData}, {"network-config", NetworkConfig}} {
				got, err := r.render(tc.args)
				if err != nil {
					t.Fatalf("%s: %v", r.file, err)
				}
				checkGolden(t, tc.name+"."+r.file, got)
			}
		})
	}
}

// The rendered documents are YAML that says what Args say, whatever the
// strings contain: parse them back rather than trusting the text.
func TestUserDataRoundTrip(t *testing.T) {
	a := fullArgs(t)
	ud, err := UserData(a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(ud, []byte("#cloud-config\n")) {
		t.Fatalf("user-data does not start with #cloud-config:\n%s", ud)
	}
	var got struct {
		Users []struct {
			Name              string   `yaml:"name"`
			Sudo              string   `yaml:"sudo"`
			LockPasswd        bool     `yaml:"lock_passwd"`
			SSHAuthorizedKeys []string `yaml:"ssh_authorized_keys"`
		} `yaml:"users"`
		SSHKeys    map[string]string `yaml:"ssh_keys"`
		WriteFiles []struct {
			Path, Content, Encoding, Owner, Permissions string
			Defer                                       bool
		} `yaml:"write_files"`
		RunCmd []string `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal(ud, &got); err != nil {
		t.Fatalf("user-data is not YAML: %v\n%s", err, ud)
	}
	if len(got.Users) != 1 || got.Users[0].Name != "dev" || !got.Users[0].LockPasswd || got.Users[0].Sudo != "ALL=(ALL) NOPASSWD:ALL" {
		t.Errorf("users = %+v", got.Users)
	}
	if diff := cmp.Diff([]string{strings.TrimSpace(a.SSHAuthorizedKeys[0])}, got.Users[0].SSHAuthorizedKeys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if got.SSHKeys["ed25519_private"] != strings.TrimSpace(a.HostKeys["ed25519"].Private)+"\n" || got.SSHKeys["ed25519_public"] != strings.TrimSpace(a.HostKeys["ed25519"].Public) {
		t.Errorf("ssh_keys = %v", got.SSHKeys)
	}
	if diff := cmp.Diff(a.RunCmd, got.RunCmd); diff != "" {
		t.Errorf("runcmd (-want +got):\n%s", diff)
	}
	if len(got.WriteFiles) != len(a.WriteFiles) {
		t.Fatalf("write_files = %+v", got.WriteFiles)
	}
	for i, w := range got.WriteFiles {
		want := a.WriteFiles[i]
		if w.Path != want.Path || w.Owner != want.Owner || w.Permissions != want.Permissions {
			t.Errorf("write_files[%d] = %+v, want %+v", i, w, want)
		}
		content := w.Content
		if w.Encoding == "b64" {
			content = string(mustBase64(t, w.Content))
		}
		if content != want.Content {
			t.Errorf("write_files[%d] content = %q, want %q", i, content, want.Content)
		}
		if w.Defer != (want.Owner == "dev:dev") {
			t.Errorf("write_files[%d] defer = %v for owner %q", i, w.Defer, want.Owner)
		}
	}
}

func TestInstanceIDFollowsTheConfig(t *testing.T) {
	a := minimalArgs(t)
	id := func(a Args) string {
		t.Helper()
		md, err := MetaData(a)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := yaml.Unmarshal(md, &m); err != nil {
			t.Fatal(err)
		}
		return m["instance-id"]
	}
	first := id(a)
	if !strings.HasPrefix(first, "iid-") || first != id(a) {
		t.Fatalf("instance-id %q is not a stable iid-… digest", first)
	}
	b := a
	b.RunCmd = []string{"true"}
	c := a
	c.MAC = "52:54:00:12:34:57"
	for name, other := range map[string]Args{"runcmd": b, "mac": c} {
		if id(other) == first {
			t.Errorf("changing %s kept instance-id %q", name, first)
		}
	}
	a.InstanceID = "iid-fixed"
	if got := id(a); got != "iid-fixed" {
		t.Errorf("explicit instance-id: got %q", got)
	}
}

func TestValidate(t *testing.T) {
	key := readTestdata(t, "user_ed25519.pub")
	hostPriv, hostPub := readTestdata(t, "host_ed25519"), readTestdata(t, "host_ed25519.pub")
	for _, tc := range []struct {
		name  string
		edit  func(*Args)
		wants []string // every one must appear in the error
	}{
		{"no hostname", func(a *Args) { a.Hostname = "" }, []string{"hostname: required"}},
		{"bad hostname", func(a *Args) { a.Hostname = "Dev_Box" }, []string{`hostname: "Dev_Box"`}},
		{"hostname label too long", func(a *Args) { a.Hostname = strings.Repeat("a", 64) + ".lan" }, []string{"hostname:"}},
		{"no username", func(a *Args) { a.Username = "" }, []string{"username: required"}},
		{"root", func(a *Args) { a.Username = "root" }, []string{"username: root cannot"}},
		{"bad username", func(a *Args) { a.Username = "Dev User" }, []string{`username: "Dev User"`}},
		{"no keys", func(a *Args) { a.SSHAuthorizedKeys = nil }, []string{"sshAuthorizedKeys: at least one"}},
		{"bad key", func(a *Args) { a.SSHAuthorizedKeys = []string{key, "ssh-ed25519 notbase64"} }, []string{"sshAuthorizedKeys[1]: not a public key"}},
		{"two keys in one", func(a *Args) { a.SSHAuthorizedKeys = []string{key + key} }, []string{"sshAuthorizedKeys[0]: one key per entry"}},
		{"no mac", func(a *Args) { a.MAC = "" }, []string{"mac: required"}},
		{"bad mac", func(a *Args) { a.MAC = "52:54:00:12:34" }, []string{`mac: "52:54:00:12:34" is not`}},
		{"long mac", func(a *Args) { a.MAC = "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01" }, []string{"mac:"}},
		{"bad interface", func(a *Args) { a.InterfaceName = "a very long interface name" }, []string{"interfaceName:"}},
		{"boolean interface", func(a *Args) { a.InterfaceName = "on" }, []string{`interfaceName: "on"`}},
		{"relative shell", func(a *Args) { a.Shell = "bash" }, []string{`shell: "bash" is not an absolute path`}},
		{"bad host key type", func(a *Args) { a.SSHHostKeyTypes = []string{"dsa"} }, []string{`sshHostKeyTypes[0]: "dsa"`}},
		{"host key mismatch", func(a *Args) {
			a.HostKeys = map[string]HostKey{"ed25519": {Private: hostPriv, Public: key}}
		}, []string{"hostKeys.ed25519: the private key does not belong"}},
		{"host key wrong type", func(a *Args) {
			a.HostKeys = map[string]HostKey{"rsa": {Private: hostPriv, Public: hostPub}}
		}, []string{"hostKeys.rsa.public: is a ssh-ed25519 key, not ssh-rsa"}},
		{"host key not a key", func(a *Args) {
			a.HostKeys = map[string]HostKey{"ed25519": {Private: "secret-garbage", Public: hostPub}}
		}, []string{"hostKeys.ed25519.private: not an unencrypted private key"}},
		{"bad package", func(a *Args) { a.Packages = []string{"htop curl"} }, []string{`packages[0]: "htop curl"`}},
		{"relative file", func(a *Args) { a.WriteFiles = []File{{Path: "etc/motd"}} }, []string{`writeFiles[0].path: "etc/motd"`}},
		{"unclean file", func(a *Args) { a.WriteFiles = []File{{Path: "/etc/../motd"}} }, []string{`writeFiles[0].path`}},
		{"bad permissions", func(a *Args) { a.WriteFiles = []File{{Path: "/a", Permissions: "rw-r--r--"}} }, []string{`writeFiles[0].permissions: "rw-r--r--"`}},
		{"empty command", func(a *Args) { a.RunCmd = []string{"true", " "} }, []string{"runcmd[1]: empty command"}},
		{"everything at once", func(a *Args) { a.Hostname, a.Username, a.MAC = "", "", "" }, []string{"hostname: required", "username: required", "mac: required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := minimalArgs(t)
			tc.edit(&a)
			err := a.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "secret-garbage") {
				t.Errorf("error shows the private key: %v", err)
			}
			for name, render := range map[string]func(Args) ([]byte, error){"UserData": UserData, "MetaData": MetaData, "NetworkConfig": NetworkConfig} {
				if b, err := render(a); err == nil {
					t.Errorf("%s rendered invalid args:\n%s", name, b)
				}
			}
			if err := WriteISO(filepath.Join(t.TempDir(), "seed.iso"), a); err == nil {
				t.Error("WriteISO accepted invalid args")
			}
		})
	}
	if err := fullArgs(t).Validate(); err != nil {
		t.Errorf("full args: %v", err)
	}
}

func TestWriteISO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seed.iso")
	a := fullArgs(t)
	if err := os.WriteFile(path, []byte("an older seed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteISO(path, a); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	want, err := Files(a)
	if err != nil {
		t.Fatal(err)
	}

	// Read back with go-diskfs: label and the three files.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs, err := iso9660.Read(file.New(f, true), st.Size(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// go-diskfs pads the identifier with NULs (ECMA-119 says spaces);
	// blkid below reads it as the guest will.
	if got := strings.TrimRight(fs.Label(), "\x00 "); got != VolumeLabel {
		t.Errorf("label %q, want %q", got, VolumeLabel)
	}
	for name, content := range want {
		got, err := readISOFile(fs, "/"+name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, content) {
			t.Errorf("%s on the ISO differs:\n%s", name, got)
		}
	}

	// And with the tools cloud-init's side relies on: blkid finds the
	// label, isoinfo reads the Rock Ridge names (lowercase, with '-').
	if blkid, err := exec.LookPath("blkid"); err == nil {
		out, err := exec.Command(blkid, "-p", "-o", "export", path).Output()
		if err != nil {
			t.Fatalf("blkid: %v", err)
		}
		if !strings.Contains(string(out), "LABEL=cidata\n") || !strings.Contains(string(out), "TYPE=iso9660\n") {
			t.Errorf("blkid sees:\n%s", out)
		}
	}
	if isoinfo, err := exec.LookPath("isoinfo"); err == nil {
		for name, content := range want {
			out, err := exec.Command(isoinfo, "-R", "-i", path, "-x", "/"+name).Output()
			if err != nil {
				t.Fatalf("isoinfo -x /%s: %v", name, err)
			}
			if !bytes.Equal(out, content) {
				t.Errorf("isoinfo reads /%s as:\n%s", name, out)
			}
		}
	}
}

func mustBase64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

func readISOFile(fs *iso9660.FileSystem, name string) ([]byte, error) {
	f, err := fs.OpenFile(name, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// cloud-init parses the seed with PyYAML (YAML 1.1). Strings that YAML
// 1.2 reads as strings but PyYAML as numbers, booleans or dates must come
// out as the same strings there.
func TestPyYAMLReadsStrings(t *testing.T) {
	python := testutil.RequiresCommand(t, "python3")
	if out, err := exec.Command(python, "-c", "import yaml").CombinedOutput(); err != nil {
		testutil.Missing(t, "PyYAML (python3-yaml): "+strings.TrimSpace(string(out)))
	}
	tricky := []string{"on", "Off", "yes", "NO", "1:20", "190:20:30", "0644", "0o17", "1_000", ".inf", "-.5", "1.5e+3", "=", "<<", "~", "null", "2001-12-14", "2001-12-14 21:59:43.10 -5", "0b101", "0x1F", "12"}
	a := minimalArgs(t)
	a.MAC = "52:54:00:12:34:56" // all digits: base 60 in YAML 1.1
	a.Packages = slices.DeleteFunc(slices.Clone(tricky), func(s string) bool { return strings.Contains(s, " ") })
	a.RunCmd = tricky
	for i, s := range tricky {
		a.WriteFiles = append(a.WriteFiles, File{Path: fmt.Sprintf("/tmp/f%d", i), Content: s, Owner: "root"})
	}
	load := func(doc []byte) map[string]any {
		t.Helper()
		cmd := exec.Command(python, "-c", "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin), default=repr))")
		cmd.Stdin = bytes.NewReader(doc)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("PyYAML: %v\n%s", err, doc)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return m
	}
	ud, err := UserData(a)
	if err != nil {
		t.Fatal(err)
	}
	got := load(ud)
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			s, ok := x.(string)
			if !ok {
				t.Errorf("PyYAML reads %#v (%T), not a string", x, x)
			}
			out = append(out, s)
		}
		return out
	}
	if diff := cmp.Diff(a.Packages, strs(got["packages"])); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(tricky, strs(got["runcmd"])); diff != "" {
		t.Errorf("runcmd (-want +got):\n%s", diff)
	}
	var contents []any
	for _, f := range got["write_files"].([]any) {
		contents = append(contents, f.(map[string]any)["content"])
	}
	if diff := cmp.Diff(tricky, strs(contents)); diff != "" {
		t.Errorf("write_files contents (-want +got):\n%s", diff)
	}
	nc, err := NetworkConfig(a)
	if err != nil {
		t.Fatal(err)
	}
	mac := load(nc)["ethernets"].(map[string]any)["eth0"].(map[string]any)["match"].(map[string]any)["macaddress"]
	if mac != a.MAC {
		t.Errorf("PyYAML reads macaddress as %#v", mac)
	}
}
