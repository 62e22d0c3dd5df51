package reconcile

import (
	"fmt"
	"net"
	"strings"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/host"
)

// Display ports libvirt hands out when a display has no fixed port
// (autoport). Its range reaches 65535; deskvm opens the first hundred, the
// ports a workstation's displays actually get, and says so.
const (
	autoPortFirst = 5900
	autoPortLast  = 5999
)

// displayPorts are the TCP ports to open: for each enabled VM whose
// display listens beyond loopback and whose display kind is switched on in
// firewallPorts. Returns merged, sorted ranges and a reason per VM.
func displayPorts(c *config.Config) ([]host.PortRange, []string) {
	var ports []host.PortRange
	var why []string
	for _, name := range c.EnabledVMs() {
		vm := c.VMs[name]
		var open bool
		switch vm.Display {
		case config.DisplaySpice, config.DisplayLookingGlass, "":
			open = isTrue(c.FirewallPorts.Spice)
		case config.DisplayVNC:
			open = isTrue(c.FirewallPorts.VNC)
		}
		if !open || !beyondLoopback(vm.Graphics.Listen) {
			continue
		}
		if p := vm.Graphics.Port; p > 0 {
			ports = append(ports, host.PortRange{First: p, Last: p})
			why = append(why, fmt.Sprintf("%s: %s on %s port %d", name, displayName(vm.Display), vm.Graphics.Listen, p))
		} else {
			ports = append(ports, host.PortRange{First: autoPortFirst, Last: autoPortLast})
			why = append(why, fmt.Sprintf("%s: %s on %s with an automatic port (%d-%d opened; set graphics.port to open one)",
				name, displayName(vm.Display), vm.Graphics.Listen, autoPortFirst, autoPortLast))
		}
	}
	return host.MergeRanges(ports), why
}

func displayName(d config.Display) string {
	if d == "" {
		return string(config.DisplaySpice)
	}
	return string(d)
}

func isTrue(b *bool) bool { return b != nil && *b }

// beyondLoopback: the listen address is reachable from other machines.
func beyondLoopback(listen string) bool {
	switch listen {
	case "", "localhost":
		return false
	}
	ip := net.ParseIP(strings.Trim(listen, "[]"))
	if ip == nil {
		return true // a host name: assume it resolves to something real
	}
	return !ip.IsLoopback()
}
