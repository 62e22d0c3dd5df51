package unattend

import "encoding/xml"

// The structs mirror the parts of the unattend schema deskvm writes.
// Fields that are optional there are pointers or omitempty, so nothing
// empty is written (an empty <Key> makes Setup stop and ask).

// Unattend is the document element.
type Unattend struct {
	XMLName  xml.Name   `xml:"unattend"`
	XMLNS    string     `xml:"xmlns,attr"`
	Settings []Settings `xml:"settings"`
}

// Settings is one configuration pass.
type Settings struct {
	Pass       string      `xml:"pass,attr"`
	Components []Component `xml:"component"`
}

// Component is one setting group; only the fields of its kind are set.
type Component struct {
	Name           string `xml:"name,attr"`
	Arch           string `xml:"processorArchitecture,attr"`
	PublicKeyToken string `xml:"publicKeyToken,attr"`
	Language       string `xml:"language,attr"`
	VersionScope   string `xml:"versionScope,attr"`
	XMLNSWCM       string `xml:"xmlns:wcm,attr"`

	SetupUILanguage *SetupUILanguage `xml:"SetupUILanguage,omitempty"`
	InputLocale     string           `xml:"InputLocale,omitempty"`
	SystemLocale    string           `xml:"SystemLocale,omitempty"`
	UILanguage      string           `xml:"UILanguage,omitempty"`
	UserLocale      string           `xml:"UserLocale,omitempty"`

	DriverPaths *DriverPaths `xml:"DriverPaths,omitempty"`

	DiskConfiguration *DiskConfiguration `xml:"DiskConfiguration,omitempty"`
	ImageInstall      *ImageInstall      `xml:"ImageInstall,omitempty"`
	UserData          *UserData          `xml:"UserData,omitempty"`

	ComputerName       string              `xml:"ComputerName,omitempty"`
	TimeZone           string              `xml:"TimeZone,omitempty"`
	OOBE               *OOBE               `xml:"OOBE,omitempty"`
	UserAccounts       *UserAccounts       `xml:"UserAccounts,omitempty"`
	AutoLogon          *AutoLogon          `xml:"AutoLogon,omitempty"`
	FirstLogonCommands *FirstLogonCommands `xml:"FirstLogonCommands,omitempty"`
}

// SetupUILanguage is the language of Setup's own screens.
type SetupUILanguage struct {
	UILanguage string `xml:"UILanguage"`
}

// DriverPaths lists driver folders.
type DriverPaths struct {
	Paths []PathAndCredentials `xml:"PathAndCredentials"`
}

// PathAndCredentials is one driver folder.
type PathAndCredentials struct {
	Action   string `xml:"wcm:action,attr"`
	KeyValue string `xml:"wcm:keyValue,attr"`
	Path     string `xml:"Path"`
}

// DiskConfiguration partitions the disks.
type DiskConfiguration struct {
	Disks []Disk `xml:"Disk"`
}

// Disk is one disk's layout.
type Disk struct {
	Action           string            `xml:"wcm:action,attr"`
	DiskID           int               `xml:"DiskID"`
	WillWipeDisk     bool              `xml:"WillWipeDisk"`
	CreatePartitions []CreatePartition `xml:"CreatePartitions>CreatePartition"`
	ModifyPartitions []ModifyPartition `xml:"ModifyPartitions>ModifyPartition"`
}

// CreatePartition makes a partition (Size in MB, or Extend).
type CreatePartition struct {
	Action string `xml:"wcm:action,attr"`
	Order  int    `xml:"Order"`
	Type   string `xml:"Type"`
	Size   int    `xml:"Size,omitempty"`
	Extend bool   `xml:"Extend,omitempty"`
}

// ModifyPartition formats and labels a partition.
type ModifyPartition struct {
	Action      string `xml:"wcm:action,attr"`
	Order       int    `xml:"Order"`
	PartitionID int    `xml:"PartitionID"`
	Label       string `xml:"Label,omitempty"`
	Letter      string `xml:"Letter,omitempty"`
	Format      string `xml:"Format,omitempty"`
}

// ImageInstall selects the image and where it goes.
type ImageInstall struct {
	OSImage OSImage `xml:"OSImage"`
}

// OSImage is the Windows image to apply.
type OSImage struct {
	InstallFrom InstallFrom `xml:"InstallFrom"`
	InstallTo   InstallTo   `xml:"InstallTo"`
	WillShowUI  string      `xml:"WillShowUI"`
}

// InstallFrom picks the edition through MetaData.
type InstallFrom struct {
	MetaData []MetaData `xml:"MetaData"`
}

// MetaData is /IMAGE/NAME or /IMAGE/INDEX and its value.
type MetaData struct {
	Action string `xml:"wcm:action,attr"`
	Key    string `xml:"Key"`
	Value  string `xml:"Value"`
}

// InstallTo is the target partition.
type InstallTo struct {
	DiskID      int `xml:"DiskID"`
	PartitionID int `xml:"PartitionID"`
}

// UserData accepts the licence and carries the product key when given.
type UserData struct {
	AcceptEula bool        `xml:"AcceptEula"`
	ProductKey *ProductKey `xml:"ProductKey,omitempty"`
}

// ProductKey is written only with a key in it.
type ProductKey struct {
	Key        string `xml:"Key"`
	WillShowUI string `xml:"WillShowUI"`
}

// OOBE skips the out-of-box screens.
type OOBE struct {
	HideEULAPage              bool `xml:"HideEULAPage"`
	HideOEMRegistrationScreen bool `xml:"HideOEMRegistrationScreen"`
	HideOnlineAccountScreens  bool `xml:"HideOnlineAccountScreens"`
	HideWirelessSetupInOOBE   bool `xml:"HideWirelessSetupInOOBE"`
	ProtectYourPC             int  `xml:"ProtectYourPC"`
}

// UserAccounts makes the local accounts.
type UserAccounts struct {
	LocalAccounts []LocalAccount `xml:"LocalAccounts>LocalAccount"`
}

// LocalAccount is one local user.
type LocalAccount struct {
	Action      string   `xml:"wcm:action,attr"`
	Password    Password `xml:"Password"`
	Name        string   `xml:"Name"`
	DisplayName string   `xml:"DisplayName"`
	Group       string   `xml:"Group"`
}

// Password is stored as plain text (the answer file is build-time only
// and lives in the output directory with 0600).
type Password struct {
	Value     string `xml:"Value"`
	PlainText bool   `xml:"PlainText"`
}

// AutoLogon logs the account on LogonCount times.
type AutoLogon struct {
	Enabled    bool     `xml:"Enabled"`
	LogonCount int      `xml:"LogonCount"`
	Username   string   `xml:"Username"`
	Password   Password `xml:"Password"`
}

// FirstLogonCommands run in order at the first logon.
type FirstLogonCommands struct {
	Commands []SynchronousCommand `xml:"SynchronousCommand"`
}

// SynchronousCommand is one FirstLogonCommands entry.
type SynchronousCommand struct {
	Action      string `xml:"wcm:action,attr"`
	Order       int    `xml:"Order"`
	CommandLine string `xml:"CommandLine"`
	Description string `xml:"Description"`
}
