package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"libvirt.org/go/libvirtxml"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/libvirt"
)

// VNCDisplay is where a running domain's VNC server listens and where its
// password comes from.
type VNCDisplay struct {
	// Addr is what a client dials: HOST:PORT, or unix:PATH for a socket.
	// A wildcard listen address (0.0.0.0, ::) becomes loopback.
	Addr string
	// Listen is the address QEMU listens on as libvirt reports it.
	Listen string
	// Port is the TCP port (0 for a socket).
	Port int
	// Password is the display password when the domain has one; "" for
	// none. It is a secret: never print or log it.
	Password string
	// PasswordSource says where the password came from: "domain" (the
	// live domain XML, read with libvirt's secure flag), "config" (the
	// VM's graphics.passwordFile) or "" when there is none.
	PasswordSource string
}

// ErrNoVNC means the domain has no VNC display, or is not running.
var ErrNoVNC = errors.New("no VNC display")

// VNCOf reads the VNC display from a running domain's live XML (as
// libvirt fills it in: the autoport QEMU got, the listen address).
func VNCOf(liveXML string) (VNCDisplay, error) {
	if liveXML == "" {
		return VNCDisplay{}, fmt.Errorf("%w: the domain is not running", ErrNoVNC)
	}
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(liveXML); err != nil {
		return VNCDisplay{}, fmt.Errorf("read domain XML: %w", err)
	}
	if dom.Devices == nil {
		return VNCDisplay{}, ErrNoVNC
	}
	for _, g := range dom.Devices.Graphics {
		v := g.VNC
		if v == nil {
			continue
		}
		d := VNCDisplay{Password: v.Passwd}
		if d.Password != "" {
			d.PasswordSource = "domain"
		}
		if v.Socket != "" {
			d.Addr, d.Listen = "unix:"+v.Socket, v.Socket
			return d, nil
		}
		for _, l := range v.Listeners {
			switch {
			case l.Socket != nil && l.Socket.Socket != "":
				d.Addr, d.Listen = "unix:"+l.Socket.Socket, l.Socket.Socket
				return d, nil
			case l.Address != nil && d.Listen == "":
				d.Listen = l.Address.Address
			}
		}
		if d.Listen == "" {
			d.Listen = v.Listen
		}
		if v.Port <= 0 {
			return VNCDisplay{}, fmt.Errorf("%w: the VNC display has no port yet (is the domain running?)", ErrNoVNC)
		}
		d.Port = v.Port
		host := d.Listen
		switch host {
		case "", "0.0.0.0", "::":
			host = "127.0.0.1"
		}
		d.Addr = net.JoinHostPort(host, strconv.Itoa(v.Port))
		return d, nil
	}
	return VNCDisplay{}, ErrNoVNC
}

// DomainReader is what VNC needs from a libvirt connection;
// *libvirt.Conn has it.
type DomainReader interface {
	Domain(ctx context.Context, name string) (libvirt.Domain, error)
}

// VNC finds the VNC display of running domain name through the libvirt
// API (the live domain XML). When the domain XML carries no password
// and the config has the VM with graphics.passwordFile, that file is the
// password (cfg may be nil).
func VNC(ctx context.Context, lv DomainReader, cfg *config.Config, name string) (VNCDisplay, error) {
	dom, err := lv.Domain(ctx, name)
	if err != nil {
		return VNCDisplay{}, fmt.Errorf("find vnc display of domain %q: %w", name, err)
	}
	if !dom.Active {
		return VNCDisplay{}, fmt.Errorf("find vnc display of domain %q: %w: the domain is not running", name, ErrNoVNC)
	}
	d, err := VNCOf(dom.LiveXML)
	if err != nil {
		return VNCDisplay{}, fmt.Errorf("find vnc display of domain %q: %w", name, err)
	}
	if d.Password == "" && cfg != nil {
		pw, err := GraphicsPassword(cfg, name)
		if err != nil {
			return VNCDisplay{}, err
		}
		if pw != "" {
			d.Password, d.PasswordSource = pw, "config"
		}
	}
	return d, nil
}
