// Package unattend renders the autounattend.xml answer file of an
// unattended Windows install from Go structs with encoding/xml, so any
// password, name or key is escaped (the reference filled a template with
// sed, and a password with "&" broke the file). Rendering is pure; the
// answer media (ISO or floppy) are written by media.go.
//
// The passes follow PRODUCT.md §2.4:
//   - windowsPE: locale, virtio storage/network drivers through
//     Microsoft-Windows-PnpCustomizationsWinPE (the pass that loads them
//     before Setup looks for a disk), a GPT/UEFI disk layout, the edition
//     by /IMAGE/NAME or /IMAGE/INDEX, the product key only when given;
//   - offlineServicing: the same drivers into the installed system;
//   - specialize: computer name, time zone;
//   - oobeSystem: a local administrator, one auto-logon and
//     FirstLogonCommands that add OpenSSH Server from the Windows
//     capability with a local source (never Windows Update), start it
//     automatically and open its firewall port.
package unattend

import (
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Config is what the answer file needs; the recipe fills it.
type Config struct {
	Locale       string // en-US
	TimeZone     string // Windows time zone ID, e.g. "UTC", "W. Europe Standard Time"
	ComputerName string
	Username     string
	Password     string
	ProductKey   string // empty: no <ProductKey> at all
	// Edition selects the image by NAME; ImageIndex by INDEX. Exactly
	// one is set.
	Edition    string
	ImageIndex int
	// WindowsVersion names the virtio-win driver folder (w10, w11,
	// 2k19, 2k22, 2k25); see VersionFor.
	WindowsVersion string
	// DriverLetters are the drive letters tried for the virtio-win
	// media in windowsPE (default D..G: the letter depends on how many
	// CD drives come first).
	DriverLetters []string
	// OpenSSHSource is a folder with the OpenSSH.Server capability
	// (Features on Demand); empty: look for LanguagesAndOptionalFeatures
	// on every drive. Add-WindowsCapability always runs with
	// -LimitAccess, so it never asks Windows Update.
	OpenSSHSource string
	SSHPort       int // firewall port for sshd (22)
}

// VirtioDrivers are the virtio-win driver folders the answer file names:
// storage first (Setup needs it to see the disk), then network and the rest.
var VirtioDrivers = []string{"viostor", "vioscsi", "NetKVM", "Balloon", "vioserial", "viorng"}

// DriverFolders are the folders on the virtio-win media for a Windows
// version, e.g. viostor\w11\amd64.
func DriverFolders(version string) []string {
	out := make([]string, len(VirtioDrivers))
	for i, d := range VirtioDrivers {
		out[i] = d + `\` + version + `\amd64`
	}
	return out
}

var (
	localeRE       = regexp.MustCompile(`^[a-z]{2,3}-[A-Za-z]{2,4}(-[A-Za-z]{2,4})?$`)
	computerNameRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,15}$`)
	letterRE       = regexp.MustCompile(`^[C-Zc-z]$`)
	versions       = []string{"w10", "w11", "2k19", "2k22", "2k25"}
)

// Validate checks every field and reports all problems, each naming its field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if !localeRE.MatchString(c.Locale) {
		bad("locale", "%q is not a locale like en-US", c.Locale)
	}
	if strings.TrimSpace(c.TimeZone) == "" || strings.ContainsAny(c.TimeZone, "\r\n") {
		bad("timezone", "%q is not a Windows time zone ID like \"UTC\"", c.TimeZone)
	}
	if !computerNameRE.MatchString(c.ComputerName) || strings.Trim(c.ComputerName, "0123456789") == "" {
		bad("computerName", "%q must be 1-15 letters, digits or '-', not only digits", c.ComputerName)
	}
	if c.Username == "" || len(c.Username) > 20 || strings.ContainsAny(c.Username, `"/\[]:;|=,+*?<>@`) || strings.TrimSpace(c.Username) != c.Username {
		bad("username", "%q must be 1-20 characters without \"/\\[]:;|=,+*?<>@ or surrounding spaces", c.Username)
	}
	if strings.EqualFold(c.Username, c.ComputerName) {
		bad("username", "must differ from computerName (Windows refuses an account named like the computer)")
	}
	if c.Password == "" {
		bad("password", "is empty")
	}
	if strings.ContainsAny(c.Password, "\x00\r\n") {
		bad("password", "contains a NUL or line break")
	}
	switch {
	case c.Edition == "" && c.ImageIndex == 0:
		bad("edition", "set edition (a name listed by deskvm image validate-iso) or imageIndex")
	case c.Edition != "" && c.ImageIndex != 0:
		bad("edition", "set edition or imageIndex, not both")
	case c.ImageIndex < 0:
		bad("imageIndex", "%d is not a positive index", c.ImageIndex)
	}
	if c.ProductKey != "" && !regexp.MustCompile(`^([A-Z0-9]{5}-){4}[A-Z0-9]{5}$`).MatchString(c.ProductKey) {
		bad("productKey", "is not five groups of five letters or digits")
	}
	if !contains(versions, c.WindowsVersion) {
		bad("windowsVersion", "%q is not one of %s", c.WindowsVersion, strings.Join(versions, ", "))
	}
	for _, l := range c.DriverLetters {
		if !letterRE.MatchString(l) {
			bad("driverLetters", "%q is not a drive letter C..Z", l)
		}
	}
	if strings.ContainsAny(c.OpenSSHSource, "'\r\n") {
		bad("openSSHSource", "must not contain a quote or a line break")
	}
	if c.SSHPort < 0 || c.SSHPort > 65535 {
		bad("sshPort", "%d is not a TCP port", c.SSHPort)
	}
	return errors.Join(errs...)
}

// KnownVersion reports whether v is a virtio-win folder version deskvm names.
func KnownVersion(v string) bool { return contains(versions, v) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// VersionFor tells the virtio-win folder name for an edition, from its
// name ("Windows 11 Pro", "Windows Server 2022 …") or else its build
// number (22000 and later is Windows 11).
func VersionFor(name string, build int) (string, error) {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "server 2025"):
		return "2k25", nil
	case strings.Contains(n, "server 2022"):
		return "2k22", nil
	case strings.Contains(n, "server 2019"):
		return "2k19", nil
	case strings.Contains(n, "server"):
		switch {
		case build >= 26100:
			return "2k25", nil
		case build >= 20348:
			return "2k22", nil
		case build >= 17763:
			return "2k19", nil
		}
	case strings.Contains(n, "windows 11"):
		return "w11", nil
	case strings.Contains(n, "windows 10"):
		return "w10", nil
	case build >= 22000:
		return "w11", nil
	case build >= 10240:
		return "w10", nil
	}
	return "", fmt.Errorf("cannot tell the Windows version of edition %q (build %d): name it Windows 10/11/Server 20xx or use an image whose XML has a build number", name, build)
}

const (
	nsUnattend = "urn:schemas-microsoft-com:unattend"
	nsWCM      = "http://schemas.microsoft.com/WMIConfig/2002/State"
)

// Render returns the answer file, or the validation errors.
func Render(c Config) ([]byte, error) {
	if len(c.DriverLetters) == 0 {
		c.DriverLetters = []string{"D", "E", "F", "G"}
	}
	if c.SSHPort == 0 {
		c.SSHPort = 22
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	doc := document(c)
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode autounattend.xml: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func component(name string) Component {
	return Component{
		Name: name, Arch: "amd64", PublicKeyToken: "31bf3856ad364e35",
		Language: "neutral", VersionScope: "nonSxS", XMLNSWCM: nsWCM,
	}
}

func document(c Config) *Unattend {
	pe := Settings{Pass: "windowsPE"}
	intl := component("Microsoft-Windows-International-Core-WinPE")
	intl.SetupUILanguage = &SetupUILanguage{UILanguage: c.Locale}
	intl.InputLocale, intl.SystemLocale, intl.UILanguage, intl.UserLocale = c.Locale, c.Locale, c.Locale, c.Locale
	pe.Components = append(pe.Components, intl)

	pnp := component("Microsoft-Windows-PnpCustomizationsWinPE")
	pnp.DriverPaths = driverPaths(c)
	pe.Components = append(pe.Components, pnp)

	setup := component("Microsoft-Windows-Setup")
	setup.DiskConfiguration = &DiskConfiguration{Disks: []Disk{{
		Action: "add", DiskID: 0, WillWipeDisk: true,
		CreatePartitions: []CreatePartition{
			{Action: "add", Order: 1, Type: "EFI", Size: 260},
			{Action: "add", Order: 2, Type: "MSR", Size: 16},
			{Action: "add", Order: 3, Type: "Primary", Extend: true},
		},
		ModifyPartitions: []ModifyPartition{
			{Action: "add", Order: 1, PartitionID: 1, Label: "System", Format: "FAT32"},
			{Action: "add", Order: 2, PartitionID: 2},
			{Action: "add", Order: 3, PartitionID: 3, Label: "Windows", Letter: "C", Format: "NTFS"},
		},
	}}}
	md := MetaData{Action: "add", Key: "/IMAGE/NAME", Value: c.Edition}
	if c.ImageIndex != 0 {
		md = MetaData{Action: "add", Key: "/IMAGE/INDEX", Value: fmt.Sprint(c.ImageIndex)}
	}
	setup.ImageInstall = &ImageInstall{OSImage: OSImage{
		InstallFrom: InstallFrom{MetaData: []MetaData{md}},
		InstallTo:   InstallTo{DiskID: 0, PartitionID: 3},
		WillShowUI:  "OnError",
	}}
	setup.UserData = &UserData{AcceptEula: true}
	if c.ProductKey != "" {
		setup.UserData.ProductKey = &ProductKey{Key: c.ProductKey, WillShowUI: "OnError"}
	}
	pe.Components = append(pe.Components, setup)

	offline := Settings{Pass: "offlineServicing"}
	nonPE := component("Microsoft-Windows-PnpCustomizationsNonWinPE")
	nonPE.DriverPaths = driverPaths(c)
	offline.Components = append(offline.Components, nonPE)

	spec := Settings{Pass: "specialize"}
	shell := component("Microsoft-Windows-Shell-Setup")
	shell.ComputerName, shell.TimeZone = c.ComputerName, c.TimeZone
	spec.Components = append(spec.Components, shell)

	oobe := Settings{Pass: "oobeSystem"}
	intl2 := component("Microsoft-Windows-International-Core")
	intl2.InputLocale, intl2.SystemLocale, intl2.UILanguage, intl2.UserLocale = c.Locale, c.Locale, c.Locale, c.Locale
	oobe.Components = append(oobe.Components, intl2)
	sh := component("Microsoft-Windows-Shell-Setup")
	sh.OOBE = &OOBE{HideEULAPage: true, HideOEMRegistrationScreen: true, HideOnlineAccountScreens: true, HideWirelessSetupInOOBE: true, ProtectYourPC: 3}
	sh.UserAccounts = &UserAccounts{LocalAccounts: []LocalAccount{{
		Action: "add", Name: c.Username, DisplayName: c.Username, Group: "Administrators",
		Password: Password{Value: c.Password, PlainText: true},
	}}}
	sh.AutoLogon = &AutoLogon{Enabled: true, LogonCount: 1, Username: c.Username, Password: Password{Value: c.Password, PlainText: true}}
	sh.FirstLogonCommands = &FirstLogonCommands{}
	for i, cmd := range OpenSSHCommands(c) {
		sh.FirstLogonCommands.Commands = append(sh.FirstLogonCommands.Commands, SynchronousCommand{Action: "add", Order: i + 1, CommandLine: cmd.CommandLine, Description: cmd.Description})
	}
	oobe.Components = append(oobe.Components, sh)

	return &Unattend{XMLNS: nsUnattend, Settings: []Settings{pe, offline, spec, oobe}}
}

func driverPaths(c Config) *DriverPaths {
	dp := &DriverPaths{}
	key := 1
	for _, folder := range DriverFolders(c.WindowsVersion) {
		for _, l := range c.DriverLetters {
			dp.Paths = append(dp.Paths, PathAndCredentials{Action: "add", KeyValue: fmt.Sprint(key), Path: strings.ToUpper(l) + `:\` + folder})
			key++
		}
	}
	return dp
}

// Command is one first-logon command.
type Command struct {
	CommandLine string
	Description string
}

// OpenSSHCapability is the capability FirstLogonCommands add.
const OpenSSHCapability = "OpenSSH.Server~~~~0.0.1.0"

// OpenSSHCommands enable OpenSSH Server: the capability from a local
// source with -LimitAccess (no Windows Update), sshd started
// automatically, and its port open in the firewall.
func OpenSSHCommands(c Config) []Command {
	port := c.SSHPort
	if port == 0 {
		port = 22
	}
	source := "$src = '" + c.OpenSSHSource + "'"
	if c.OpenSSHSource == "" {
		source = "$src = (Get-PSDrive -PSProvider FileSystem | ForEach-Object { Join-Path $_.Root 'LanguagesAndOptionalFeatures' } | Where-Object { Test-Path $_ } | Select-Object -First 1)"
	}
	add := source + "; " +
		"if ((Get-WindowsCapability -Online -Name '" + OpenSSHCapability + "').State -ne 'Installed') { " +
		"if (-not $src) { throw 'no OpenSSH source: no LanguagesAndOptionalFeatures folder on any drive' }; " +
		"Add-WindowsCapability -Online -Name '" + OpenSSHCapability + "' -Source $src -LimitAccess -ErrorAction Stop }"
	ps := func(script string) string {
		return `powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "` + script + `"`
	}
	return []Command{
		{ps(add), "Add OpenSSH Server from a local source (never Windows Update)"},
		{ps("Set-Service -Name sshd -StartupType Automatic; Start-Service sshd"), "Start sshd now and at every boot"},
		{ps(fmt.Sprintf("New-NetFirewallRule -Name deskvm-sshd -DisplayName 'OpenSSH Server (deskvm)' -Enabled True -Direction Inbound -Protocol TCP -Action Allow -LocalPort %d -Profile Any", port)), "Open the SSH port"},
	}
}
