package unattend

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deskvm/deskvm/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func base() Config {
	return Config{
		Locale: "en-US", TimeZone: "UTC", ComputerName: "WIN-AGENT",
		Username: "agent", Password: "correct horse", Edition: "Windows 11 Pro", WindowsVersion: "w11",
	}
}

var goldenCases = map[string]func(*Config){
	"edition-name": func(c *Config) {},
	"index-productkey-w10": func(c *Config) {
		c.Edition, c.ImageIndex, c.WindowsVersion, c.ProductKey = "", 6, "w10", "VK7JG-NPHTM-C97JM-9MPGT-3V66T"
	},
	"hostile-values": func(c *Config) { c.Username, c.Password, c.Edition = "o'brien&co", `p&<>"'w]]>`, `Pro & "Friends" <N>` },
	"openssh-source-port": func(c *Config) {
		c.OpenSSHSource, c.SSHPort, c.DriverLetters = `E:\LanguagesAndOptionalFeatures`, 2222, []string{"E", "F"}
	},
	"locale-timezone-de-de": func(c *Config) { c.Locale, c.TimeZone, c.ComputerName = "de-DE", "W. Europe Standard Time", "BUILD-01" },
}

func TestGolden(t *testing.T) {
	xmllint := testutil.RequiresCommand(t, "xmllint")
	for name, mod := range goldenCases {
		t.Run(name, func(t *testing.T) {
			c := base()
			mod(&c)
			got, err := Render(c)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update to accept):\n%s", path, got)
			}
			f := filepath.Join(t.TempDir(), FileName)
			os.WriteFile(f, got, 0o644)
			if out, err := exec.Command(xmllint, "--noout", f).CombinedOutput(); err != nil {
				t.Fatalf("xmllint --noout: %v\n%s", err, out)
			}
			checkPitfalls(t, c, got)
		})
	}
}

// xnode is a generic XML tree for reading the answer file back.
type xnode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []xnode    `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n xnode) attr(local string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// all returns every descendant with that local name.
func (n xnode) all(local string) []xnode {
	var out []xnode
	for _, c := range n.Nodes {
		if c.XMLName.Local == local {
			out = append(out, c)
		}
		out = append(out, c.all(local)...)
	}
	return out
}

func (n xnode) text(local string) string {
	if a := n.all(local); len(a) > 0 {
		return a[0].Text
	}
	return ""
}

func parse(t *testing.T, b []byte) xnode {
	t.Helper()
	var doc xnode
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse back: %v", err)
	}
	if doc.XMLName.Space != nsUnattend {
		t.Fatalf("root namespace %q", doc.XMLName.Space)
	}
	return doc
}

func pass(doc xnode, name string) (xnode, bool) {
	for _, s := range doc.all("settings") {
		if s.attr("pass") == name {
			return s, true
		}
	}
	return xnode{}, false
}

func componentIn(s xnode, name string) (xnode, bool) {
	for _, c := range s.all("component") {
		if c.attr("name") == name {
			return c, true
		}
	}
	return xnode{}, false
}

// checkPitfalls reads the answer file back and checks each reference
// pitfall: driver paths in windowsPE, edition MetaData, no empty Key,
// values round-trip, one auto-logon, OpenSSH from a local source.
func checkPitfalls(t *testing.T, c Config, b []byte) {
	t.Helper()
	doc := parse(t, b)
	pe, ok := pass(doc, "windowsPE")
	if !ok {
		t.Fatal("no windowsPE pass")
	}
	pnp, ok := componentIn(pe, "Microsoft-Windows-PnpCustomizationsWinPE")
	if !ok {
		t.Fatal("windowsPE has no Microsoft-Windows-PnpCustomizationsWinPE: Setup would see no virtio disk")
	}
	var paths []string
	for _, p := range pnp.all("Path") {
		paths = append(paths, p.Text)
	}
	joined := strings.Join(paths, "\n")
	for _, folder := range DriverFolders(c.WindowsVersion) {
		if !strings.Contains(joined, `:\`+folder+"\n") && !strings.HasSuffix(joined, `:\`+folder) {
			t.Errorf("windowsPE DriverPaths lack %s", folder)
		}
	}
	keys := map[string]bool{}
	for _, p := range pnp.all("PathAndCredentials") {
		k := p.attr("keyValue")
		if k == "" || keys[k] {
			t.Errorf("PathAndCredentials keyValue %q empty or repeated", k)
		}
		keys[k] = true
	}
	setup, ok := componentIn(pe, "Microsoft-Windows-Setup")
	if !ok {
		t.Fatal("no Microsoft-Windows-Setup in windowsPE")
	}
	md := setup.all("MetaData")
	if len(md) != 1 {
		t.Fatalf("%d InstallFrom/MetaData elements, want 1", len(md))
	}
	wantKey, wantValue := "/IMAGE/NAME", c.Edition
	if c.ImageIndex != 0 {
		wantKey, wantValue = "/IMAGE/INDEX", strconv.Itoa(c.ImageIndex)
	}
	if md[0].text("Key") != wantKey || md[0].text("Value") != wantValue {
		t.Errorf("MetaData %q=%q, want %q=%q", md[0].text("Key"), md[0].text("Value"), wantKey, wantValue)
	}
	for _, k := range doc.all("Key") {
		if strings.TrimSpace(k.Text) == "" {
			t.Error("an empty <Key> element: Setup stops and asks")
		}
	}
	pk := setup.all("ProductKey")
	if c.ProductKey == "" && len(pk) != 0 {
		t.Error("<ProductKey> written although none was given")
	}
	if c.ProductKey != "" && (len(pk) != 1 || pk[0].text("Key") != c.ProductKey) {
		t.Errorf("product key not written as given")
	}
	if len(setup.all("DiskConfiguration")) != 1 || len(setup.all("CreatePartition")) != 3 {
		t.Error("no GPT/UEFI disk layout")
	}
	var types []string
	for _, p := range setup.all("CreatePartition") {
		types = append(types, p.text("Type"))
	}
	if strings.Join(types, ",") != "EFI,MSR,Primary" {
		t.Errorf("partitions %v, want EFI,MSR,Primary", types)
	}
	spec, _ := pass(doc, "specialize")
	if spec.text("ComputerName") != c.ComputerName || spec.text("TimeZone") != c.TimeZone {
		t.Errorf("specialize: %q %q", spec.text("ComputerName"), spec.text("TimeZone"))
	}
	oobe, ok := pass(doc, "oobeSystem")
	if !ok {
		t.Fatal("no oobeSystem pass")
	}
	acct := oobe.all("LocalAccount")
	if len(acct) != 1 || acct[0].text("Name") != c.Username || acct[0].all("Password")[0].text("Value") != c.Password || acct[0].text("Group") != "Administrators" {
		t.Errorf("local account does not round-trip: %+v", acct)
	}
	al := oobe.all("AutoLogon")
	if len(al) != 1 || al[0].text("LogonCount") != "1" || al[0].text("Username") != c.Username || al[0].all("Password")[0].text("Value") != c.Password {
		t.Errorf("auto-logon is not exactly once for %s", c.Username)
	}
	var cmds []string
	for _, sc := range oobe.all("SynchronousCommand") {
		cmds = append(cmds, sc.text("CommandLine"))
	}
	all := strings.Join(cmds, "\n")
	port := c.SSHPort
	if port == 0 {
		port = 22
	}
	for _, want := range []string{
		"Add-WindowsCapability -Online -Name '" + OpenSSHCapability + "' -Source $src -LimitAccess",
		"Set-Service -Name sshd -StartupType Automatic", "Start-Service sshd",
		"New-NetFirewallRule", "-LocalPort " + strconv.Itoa(port),
	} {
		if !strings.Contains(all, want) {
			t.Errorf("FirstLogonCommands lack %q", want)
		}
	}
	for _, bad := range []string{"wuauserv", "UseWindowsUpdate", "Install-Module"} {
		if strings.Contains(all, bad) {
			t.Errorf("FirstLogonCommands use %q", bad)
		}
	}
	if strings.Count(all, "Add-WindowsCapability") != 1 || strings.Contains(all, "Add-WindowsCapability -Online -Name '"+OpenSSHCapability+"'\"") {
		t.Error("Add-WindowsCapability without a local source")
	}
	if c.OpenSSHSource != "" && !strings.Contains(all, "$src = '"+c.OpenSSHSource+"'") {
		t.Errorf("OpenSSH source %q not used", c.OpenSSHSource)
	}
}

func TestValidateNamesEveryField(t *testing.T) {
	c := Config{Locale: "english", TimeZone: "", ComputerName: "this-name-is-far-too-long", Username: "a/b", Password: "",
		Edition: "x", ImageIndex: 2, ProductKey: "nope", WindowsVersion: "xp", DriverLetters: []string{"A"}, SSHPort: 70000}
	_, err := Render(c)
	if err == nil {
		t.Fatal("no error")
	}
	for _, field := range []string{"locale:", "timezone:", "computerName:", "username:", "password:", "edition:", "productKey:", "windowsVersion:", "driverLetters:", "sshPort:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s\n%v", field, err)
		}
	}
	c = base()
	c.Edition = ""
	if _, err := Render(c); err == nil || !strings.Contains(err.Error(), "set edition") {
		t.Errorf("no edition and no index: %v", err)
	}
}

func TestVersionFor(t *testing.T) {
	for _, c := range []struct {
		name  string
		build int
		want  string
	}{
		{"Windows 11 Pro", 0, "w11"}, {"Windows 10 Pro", 19045, "w10"}, {"Pro", 26100, "w11"}, {"Pro", 19045, "w10"},
		{"Windows Server 2022 Datacenter (Desktop Experience)", 20348, "2k22"}, {"Windows Server Standard", 26100, "2k25"},
		{"Windows Server 2019 Standard", 17763, "2k19"},
	} {
		got, err := VersionFor(c.name, c.build)
		if err != nil || got != c.want {
			t.Errorf("%q %d: %q %v, want %q", c.name, c.build, got, err, c.want)
		}
	}
	if _, err := VersionFor("Mystery", 0); err == nil {
		t.Error("unknown edition without a build gave no error")
	}
}
