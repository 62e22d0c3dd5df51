package domainxml

import (
	"fmt"
	"sort"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/hostfacts"
)

// pinning is the vCPU placement of one VM: sets[i] are the host CPUs of
// vCPU i; a nil entry floats.
type pinning struct {
	sets    [][]int
	threads int // threads per core for the guest topology
}

func parseCPUSet(s string) ([]int, error) { return config.ParseCPUSet(s) }

func formatCPUSet(cpus []int) string { return config.FormatCPUSet(cpus) }

// vmPinning works out where each vCPU of VM name runs.
func vmPinning(c *config.Config, name string, vm *config.VM, f *hostfacts.Facts) (pinning, error) {
	if vm.CPUPinning.Auto {
		return autoPinning(c, name, f), nil
	}
	p := pinning{threads: 1}
	for i, s := range vm.CPUPinning.Sets {
		if i >= vm.VCPUs {
			return pinning{}, fmt.Errorf("vms.%s.cpuPinning: %d entries for %d vcpus", name, len(vm.CPUPinning.Sets), vm.VCPUs)
		}
		cpus, err := parseCPUSet(s)
		if err != nil {
			return pinning{}, fmt.Errorf("vms.%s.cpuPinning[%d]: %w", name, i, err)
		}
		p.sets = append(p.sets, cpus)
	}
	p.threads = listThreads(p.sets, vm.VCPUs, f)
	return p, nil
}

// listThreads reports 2 when the pinning list places every pair of
// consecutive vCPUs (2k, 2k+1) on the SMT siblings of one host core, so
// the guest's scheduler knows which of its vCPUs share a core.
func listThreads(sets [][]int, vcpus int, f *hostfacts.Facts) int {
	if len(sets) < vcpus || vcpus%2 != 0 || f == nil {
		return 1
	}
	core := map[int][]int{} // cpu -> its siblings
	for _, c := range f.CPUs {
		core[c.ID] = c.Siblings
	}
	for k := 0; k < vcpus; k += 2 {
		a, b := sets[k], sets[k+1]
		if len(a) == 0 || len(b) == 0 {
			return 1
		}
		sib, ok := core[a[0]]
		if !ok || len(sib) != 2 {
			return 1
		}
		in := map[int]bool{sib[0]: true, sib[1]: true}
		for _, x := range append(append([]int(nil), a...), b...) {
			if !in[x] {
				return 1
			}
		}
		// The two vCPUs must sit on different threads of the core;
		// both floating over the whole core is not a thread pair.
		if len(a) != 1 || len(b) != 1 || a[0] == b[0] {
			return 1
		}
	}
	return 2
}

// hostCore is one physical core: its logical CPUs, sorted.
type hostCore struct{ cpus []int }

func hostCores(f *hostfacts.Facts) []hostCore {
	if f == nil {
		return nil
	}
	type key struct{ socket, core int }
	by := map[key][]int{}
	var order []key
	for _, c := range f.CPUs {
		k := key{c.Socket, c.Core}
		if _, ok := by[k]; !ok {
			order = append(order, k)
		}
		by[k] = append(by[k], c.ID)
	}
	out := make([]hostCore, 0, len(order))
	for _, k := range order {
		cpus := by[k]
		sort.Ints(cpus)
		out = append(out, hostCore{cpus: cpus})
	}
	// Cores in order of their first logical CPU: the natural reading order.
	sort.Slice(out, func(i, j int) bool { return out[i].cpus[0] < out[j].cpus[0] })
	return out
}

// autoPinning places the vCPUs of every cpuPinning: auto VM on whole host
// cores. It allocates for all auto VMs at once, in name order, after the
// CPUs that list-pinned VMs claim, so each VM's result is the same
// whichever VM is being rendered. Preference: free cores without CPU 0,
// then CPU 0's core, then cores another VM already uses (again CPU 0's
// last). A host with
// fewer logical CPUs than the VM has vCPUs gets no pinning (pinning cannot
// give such a VM dedicated CPUs); host checks warn about it.
func autoPinning(c *config.Config, name string, f *hostfacts.Facts) pinning {
	cores := hostCores(f)
	taken := map[int]bool{} // host CPU -> claimed by some VM
	names := make([]string, 0, len(c.VMs))
	for n, vm := range c.VMs {
		if vm == nil || !vm.Enabled() {
			continue
		}
		names = append(names, n)
		if !vm.CPUPinning.Auto {
			for _, s := range vm.CPUPinning.Sets {
				cpus, _ := parseCPUSet(s)
				for _, x := range cpus {
					taken[x] = true
				}
			}
		}
	}
	sort.Strings(names)
	var result pinning
	for _, n := range names {
		vm := c.VMs[n]
		if !vm.CPUPinning.Auto {
			continue
		}
		p := allocate(cores, taken, vm.VCPUs)
		if n == name {
			result = p
		}
	}
	if result.threads == 0 {
		// The VM being rendered is disabled; place it as if it were alone.
		result = allocate(cores, map[int]bool{}, c.VMs[name].VCPUs)
	}
	return result
}

func allocate(cores []hostCore, taken map[int]bool, vcpus int) pinning {
	total := 0
	for _, hc := range cores {
		total += len(hc.cpus)
	}
	if vcpus <= 0 || total < vcpus {
		return pinning{threads: 1}
	}
	busy := func(hc hostCore) bool {
		for _, x := range hc.cpus {
			if taken[x] {
				return true
			}
		}
		return false
	}
	hasZero := func(hc hostCore) bool { return hc.cpus[0] == 0 }
	var order []hostCore
	for pass := 0; pass < 4; pass++ {
		for _, hc := range cores {
			if busy(hc) == (pass >= 2) && hasZero(hc) == (pass%2 == 1) {
				order = append(order, hc)
			}
		}
	}
	var cpus []int
	threads := 0
	for _, hc := range order {
		if len(cpus) >= vcpus {
			break
		}
		if threads == 0 {
			threads = len(hc.cpus)
		} else if threads != len(hc.cpus) {
			threads = -1 // mixed core sizes (hybrid CPUs)
		}
		cpus = append(cpus, hc.cpus...)
	}
	p := pinning{sets: make([][]int, vcpus), threads: 1}
	for i := 0; i < vcpus; i++ {
		p.sets[i] = []int{cpus[i]}
		taken[cpus[i]] = true
	}
	// The guest sees SMT only when every core it uses is filled exactly.
	if threads > 1 && vcpus%threads == 0 {
		p.threads = threads
	}
	return p
}
