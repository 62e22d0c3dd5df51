package session

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/libvirt"
)

// Live XML as libvirt reports it for running domains (autoport filled in).
const (
	liveTCP = `<domain type='qemu' id='3'><name>a</name><devices>
<graphics type='spice' port='5930' autoport='no' listen='127.0.0.1'/>
<graphics type='vnc' port='5907' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>
</devices></domain>`
	liveWildcard = `<domain type='qemu' id='4'><name>b</name><devices>
<graphics type='vnc' port='5911' autoport='yes' listen='0.0.0.0' passwd='s3cret'><listen type='address' address='0.0.0.0'/></graphics>
</devices></domain>`
	liveIPv6 = `<domain type='qemu' id='5'><name>c</name><devices>
<graphics type='vnc' port='5901' autoport='no'><listen type='address' address='::1'/></graphics>
</devices></domain>`
	liveSocket = `<domain type='qemu' id='6'><name>d</name><devices>
<graphics type='vnc'><listen type='socket' socket='/run/libvirt/qemu/d.vnc'/></graphics>
</devices></domain>`
	liveSpiceOnly = `<domain type='qemu' id='7'><name>e</name><devices><graphics type='spice' port='5930'/></devices></domain>`
	inactiveVNC   = `<domain type='qemu'><name>f</name><devices><graphics type='vnc' port='-1' autoport='yes'/></devices></domain>`
)

func TestVNCOf(t *testing.T) {
	for _, tc := range []struct {
		name, xml string
		want      VNCDisplay
	}{
		{"tcp", liveTCP, VNCDisplay{Addr: "127.0.0.1:5907", Listen: "127.0.0.1", Port: 5907}},
		{"wildcard listen dials loopback; password from the domain", liveWildcard,
			VNCDisplay{Addr: "127.0.0.1:5911", Listen: "0.0.0.0", Port: 5911, Password: "s3cret", PasswordSource: "domain"}},
		{"ipv6", liveIPv6, VNCDisplay{Addr: "[::1]:5901", Listen: "::1", Port: 5901}},
		{"socket", liveSocket, VNCDisplay{Addr: "unix:/run/libvirt/qemu/d.vnc", Listen: "/run/libvirt/qemu/d.vnc"}},
	} {
		got, err := VNCOf(tc.xml)
		if err != nil || got != tc.want {
			t.Errorf("%s: VNCOf = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	for name, xml := range map[string]string{"no vnc": liveSpiceOnly, "not running": "", "no port yet": inactiveVNC} {
		if d, err := VNCOf(xml); !errors.Is(err, ErrNoVNC) {
			t.Errorf("%s: VNCOf = %+v, %v; want ErrNoVNC", name, d, err)
		}
	}
	if _, err := VNCOf("<domain"); err == nil || errors.Is(err, ErrNoVNC) {
		t.Errorf("broken XML: %v", err)
	}
}

type domains map[string]libvirt.Domain

func (d domains) Domain(_ context.Context, name string) (libvirt.Domain, error) {
	if dom, ok := d[name]; ok {
		return dom, nil
	}
	return libvirt.Domain{}, libvirt.ErrNotFound
}

// VNC takes the password from the domain, else from the VM's
// graphics.passwordFile; a stopped or unknown domain is an error naming it.
func TestVNCPasswordSource(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{VMs: map[string]*config.VM{
		"a": {Graphics: config.Graphics{PasswordFile: pwFile}},
		"b": {Graphics: config.Graphics{PasswordFile: pwFile}},
	}}
	lv := domains{
		"a":   {Name: "a", Active: true, LiveXML: liveTCP},
		"b":   {Name: "b", Active: true, LiveXML: liveWildcard},
		"off": {Name: "off", InactiveXML: inactiveVNC},
	}
	ctx := context.Background()
	if d, err := VNC(ctx, lv, cfg, "a"); err != nil || d.Password != "from-file" || d.PasswordSource != "config" {
		t.Errorf("a: %+v, %v; want the config's password file", d, err)
	}
	if d, err := VNC(ctx, lv, cfg, "b"); err != nil || d.Password != "s3cret" || d.PasswordSource != "domain" {
		t.Errorf("b: %+v, %v; want the domain's password", d, err)
	}
	if d, err := VNC(ctx, lv, nil, "a"); err != nil || d.Password != "" || d.PasswordSource != "" {
		t.Errorf("a without config: %+v, %v; want no password", d, err)
	}
	if _, err := VNC(ctx, lv, cfg, "off"); !errors.Is(err, ErrNoVNC) {
		t.Errorf("stopped domain: %v", err)
	}
	if _, err := VNC(ctx, lv, cfg, "gone"); !errors.Is(err, libvirt.ErrNotFound) {
		t.Errorf("unknown domain: %v", err)
	}
}
