package domainxml

import (
	"fmt"
	"testing"

	"github.com/deskvm/deskvm/internal/config"
)

// benchConfig is one config with n VMs that cycle through the golden
// cases' option mixes (osType, display, pinning list/auto, virtiofs,
// TPM, secure boot, port forwards, extra devices).
func benchConfig(b *testing.B, n int) *config.Config {
	b.Helper()
	cases := goldenCases()
	vms := map[string]*config.VM{}
	for i := 0; i < n; i++ {
		gc := cases[i%len(cases)]
		c, _ := gc.build()
		vm := c.VMs[gc.name]
		if vm.CPUPinning.Auto {
			// Auto placement looks at every VM; a host full of auto VMs
			// is the costly case, keep one in ten.
			if i%10 != 0 {
				vm.CPUPinning = config.CPUPinning{}
			}
		}
		vm.UUID, vm.MACAddress = "", ""
		vms[fmt.Sprintf("vm%04d", i)] = vm
	}
	c := newConfig(vms)
	config.FillDefaults(c)
	return c
}

// BenchmarkRender1000 renders 1000 domains to XML (target: 1 s in all).
func BenchmarkRender1000(b *testing.B) {
	c := benchConfig(b, 1000)
	names := c.VMNames()
	f := deskHost()
	b.ResetTimer()
	for b.Loop() {
		for _, n := range names {
			if _, err := RenderXML(c, n, f); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkMarshal1000 is the baseline: only encoding the same 1000
// domains, already built, to XML. Render1000 / Marshal1000 is the cost of
// deskvm's own logic on top of encoding/xml.
func BenchmarkMarshal1000(b *testing.B) {
	c := benchConfig(b, 1000)
	f := deskHost()
	var doms []interface{ Marshal() (string, error) }
	for _, n := range c.VMNames() {
		d, err := Render(c, n, f)
		if err != nil {
			b.Fatal(err)
		}
		doms = append(doms, d)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, d := range doms {
			if _, err := d.Marshal(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
