// Package reconcile makes libvirt match a deskvm config: Observe reads what
// libvirt and the host have, Plan (pure) turns config + host facts + that
// observation into an ordered list of actions with reasons, and Apply
// carries a plan out. Only domains that carry deskvm's metadata are ever
// changed or removed.
package reconcile

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/domainxml"
	"github.com/deskvm/deskvm/internal/host"
	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/units"
	"github.com/deskvm/deskvm/internal/yamlsrc"
)

// Observed is what libvirt and the host hold before a plan.
type Observed struct {
	Domains []libvirt.Domain `json:"domains"`
	Pools   []libvirt.Pool   `json:"pools"`
	// Volumes of the active pools the config uses, by pool name.
	Volumes map[string][]libvirt.Volume `json:"volumes"`
	// Firewall is deskvm's nftables table; nil when it could not be read
	// (nft missing), which is only an error when ports must be opened.
	Firewall *host.FirewallState `json:"firewall,omitempty"`
	// FirewallErr says why Firewall is nil.
	FirewallErr string `json:"firewallError,omitempty"`
}

// VMStatus is a VM's verdict in a plan.
type VMStatus string

const (
	StatusCreate         VMStatus = "create"
	StatusUpdate         VMStatus = "update"
	StatusUnchanged      VMStatus = "unchanged"
	StatusRemove         VMStatus = "remove"
	StatusPendingRestart VMStatus = "pending-restart"
	StatusError          VMStatus = "error"
)

// ActionKind names one step of apply.
type ActionKind string

const (
	ActStopDomain     ActionKind = "stop-domain"     // destroy (power off)
	ActUndefineDomain ActionKind = "undefine-domain" // NVRAM/TPM kept unless --delete-disks
	ActDeleteVolume   ActionKind = "delete-volume"
	ActSetHugepages   ActionKind = "set-hugepages"
	ActDefinePool     ActionKind = "define-pool"
	ActBuildPool      ActionKind = "build-pool"
	ActStartPool      ActionKind = "start-pool"
	ActPoolAutostart  ActionKind = "autostart-pool"
	ActCreateVolume   ActionKind = "create-volume"
	ActGrowVolume     ActionKind = "grow-volume"
	ActDefineDomain   ActionKind = "define-domain"
	ActSetAutostart   ActionKind = "set-autostart"
	ActStartDomain    ActionKind = "start-domain"
	ActRestartDomain  ActionKind = "restart-domain" // graceful shutdown, then start
	ActFirewall       ActionKind = "firewall"
)

// Needs values: an action with Needs runs only when apply got the flag.
const (
	NeedRestart     = "restart"      // apply --restart
	NeedDeleteDisks = "delete-disks" // apply --delete-disks
)

// Action is one change apply makes.
type Action struct {
	Kind ActionKind `json:"kind"`
	// VM is the VM the action belongs to (empty for host actions).
	VM string `json:"vm,omitempty"`
	// Target names the object: domain, pool, pool/volume, "hugepages", "firewall".
	Target string `json:"target"`
	Reason string `json:"reason"`
	// Needs lists the apply flags this action waits for.
	Needs []string `json:"needs,omitempty"`
	// Create marks the steps of a VM's creation, rolled back together.
	Create bool `json:"-"`

	// Kind-specific details.
	XML       string              `json:"-"` // define-domain (may hold a display password)
	Pool      string              `json:"pool,omitempty"`
	Path      string              `json:"path,omitempty"`   // define-pool
	Volume    *libvirt.VolumeSpec `json:"volume,omitempty"` // create-volume
	Capacity  uint64              `json:"capacity,omitempty"`
	DiskDev   string              `json:"diskDev,omitempty"` // grow-volume of a running VM: its target dev
	Live      bool                `json:"live,omitempty"`    // grow-volume through the running domain
	Autostart bool                `json:"autostart,omitempty"`
	PageKiB   uint64              `json:"pageKiB,omitempty"` // set-hugepages
	Pages     uint64              `json:"pages,omitempty"`
	Script    string              `json:"nft,omitempty"` // firewall: the nft script
}

// Runs reports whether the action runs under the given apply flags.
func (a Action) Runs(restart, deleteDisks bool) bool {
	for _, n := range a.Needs {
		if (n == NeedRestart && !restart) || (n == NeedDeleteDisks && !deleteDisks) {
			return false
		}
	}
	return true
}

func (a Action) String() string {
	s := string(a.Kind) + " " + a.Target
	if a.Reason != "" {
		s += ": " + a.Reason
	}
	return s
}

// VMPlan is the verdict for one VM.
type VMPlan struct {
	Name   string   `json:"name"`
	Status VMStatus `json:"status"`
	Reason string   `json:"reason"`
	// Diff is a unified diff of the domain XML (update, pending-restart).
	Diff string `json:"diff,omitempty"`
	// PendingRestart: the VM runs an older definition than its new one.
	PendingRestart bool `json:"pendingRestart,omitempty"`
	// Running: the domain is active now.
	Running bool `json:"running,omitempty"`
}

// Plan is what apply will do.
type Plan struct {
	VMs []VMPlan `json:"vms"`
	// Actions in the order apply runs them. Actions with Needs run only
	// with the matching apply flag.
	Actions []Action `json:"actions"`
	// Notes are things to tell the user that apply cannot do (kernel
	// command line for 1G pages, …).
	Notes []string `json:"notes,omitempty"`
}

// Changes counts the actions that run under the given flags.
func (p *Plan) Changes(restart, deleteDisks bool) int {
	n := 0
	for _, a := range p.Actions {
		if a.Runs(restart, deleteDisks) {
			n++
		}
	}
	return n
}

// Errors are the VMs that apply refuses to touch.
func (p *Plan) Errors() []VMPlan {
	var out []VMPlan
	for _, v := range p.VMs {
		if v.Status == StatusError {
			out = append(out, v)
		}
	}
	return out
}

// PlanOptions are inputs to MakePlan besides config, facts and observation.
type PlanOptions struct {
	// GraphicsPasswords by VM name, read from graphics.passwordFile by the
	// caller (planning does no I/O).
	GraphicsPasswords map[string]string
	// FirewallTable is the nftables table (default DefaultFirewallTable).
	FirewallTable string
	// DomainPrefix, when set, limits deskvm to domains whose names start
	// with it; all others are treated as absent. It lets several configs
	// (or test runs) share one libvirtd without removing each other's VMs.
	DomainPrefix string
	// RemoteHost, when set, is the host libvirt runs on (a qemu+ssh://
	// URI): deskvm then changes no hugepage pool or firewall here, where
	// it would be the wrong machine, and notes what that host needs.
	RemoteHost string
}

// PlanError holds the problems that stop the whole plan: host checks that
// fail, a disk that would shrink, a pool that is not where the config
// says. Each names its field path (yamlsrc.Doc.Locate adds the file
// position). Nothing is changed when planning fails.
type PlanError struct {
	Problems yamlsrc.Problems
}

func (e *PlanError) Error() string {
	var lines []string
	for _, p := range e.Problems {
		if p.Path != "" {
			lines = append(lines, p.Path+": "+p.Message)
		} else {
			lines = append(lines, p.Message)
		}
	}
	if len(lines) == 1 {
		return "plan: " + lines[0]
	}
	return "plan: " + fmt.Sprint(len(lines)) + " problems:\n  " + strings.Join(lines, "\n  ")
}

// MakePlan builds the plan. desired must be defaulted and valid
// (config.FillDefaults, config.Validate without errors). It is pure.
func MakePlan(desired *config.Config, facts *hostfacts.Facts, obs *Observed, opts PlanOptions) (*Plan, error) {
	if desired == nil {
		return nil, errors.New("plan: no config")
	}
	if obs == nil {
		obs = &Observed{}
	}
	if opts.FirewallTable == "" {
		opts.FirewallTable = host.DefaultFirewallTable
	}
	if opts.DomainPrefix != "" {
		scoped := *obs
		scoped.Domains = nil
		for _, d := range obs.Domains {
			if strings.HasPrefix(d.Name, opts.DomainPrefix) {
				scoped.Domains = append(scoped.Domains, d)
			}
		}
		obs = &scoped
	}
	p := &planner{c: desired, f: facts, obs: obs, opts: opts, plan: &Plan{VMs: []VMPlan{}, Actions: []Action{}}}
	p.hostChecks()
	p.index()
	enabled := desired.EnabledVMs()
	wanted := map[string]bool{}
	for _, n := range enabled {
		wanted[n] = true
	}

	// Removals first: they free names, UUIDs and hugepages.
	for _, d := range obs.Domains {
		if !wanted[d.Name] && p.managed(d) {
			p.remove(d)
		}
	}
	p.hugepages(enabled)
	p.storagePools(enabled)
	for _, name := range enabled {
		p.vm(name)
	}
	p.firewall()
	if len(p.problems) > 0 {
		return nil, &PlanError{Problems: p.problems}
	}
	sort.SliceStable(p.plan.VMs, func(i, j int) bool { return p.plan.VMs[i].Name < p.plan.VMs[j].Name })
	return p.plan, nil
}

type planner struct {
	c        *config.Config
	f        *hostfacts.Facts
	obs      *Observed
	opts     PlanOptions
	plan     *Plan
	problems yamlsrc.Problems

	domains map[string]libvirt.Domain
	pools   map[string]libvirt.Pool
	// poolVolumes: pool -> volume name -> volume
	poolVolumes map[string]map[string]libvirt.Volume
}

func (p *planner) problem(path, format string, args ...any) {
	p.problems = append(p.problems, yamlsrc.Errorf(path, format, args...))
}

func (p *planner) add(a Action) { p.plan.Actions = append(p.plan.Actions, a) }

func (p *planner) index() {
	p.domains = map[string]libvirt.Domain{}
	for _, d := range p.obs.Domains {
		p.domains[d.Name] = d
	}
	p.pools = map[string]libvirt.Pool{}
	for _, x := range p.obs.Pools {
		p.pools[x.Name] = x
	}
	p.poolVolumes = map[string]map[string]libvirt.Volume{}
	for pool, vs := range p.obs.Volumes {
		m := map[string]libvirt.Volume{}
		for _, v := range vs {
			m[v.Name] = v
		}
		p.poolVolumes[pool] = m
	}
}

// hostChecks turns config.CheckHost's findings into plan errors. The
// free-hugepage check is left out for 2M pages: apply allocates those
// itself and reports a shortfall with the numbers.
func (p *planner) hostChecks() {
	twoMeg := p.c.HugepageSizeBytes() == 2<<20
	for _, pr := range config.CheckHost(p.c, p.f) {
		if twoMeg && pr.Path == "hugepages" {
			continue
		}
		pr.Severity = yamlsrc.SeverityError
		p.problems = append(p.problems, pr)
	}
}

// managed: the domain carries deskvm's metadata (in either definition).
func (p *planner) managed(d libvirt.Domain) bool {
	for _, x := range []string{d.InactiveXML, d.LiveXML} {
		if x == "" {
			continue
		}
		if _, ok, err := domainxml.ParseMetadata(x); err == nil && ok {
			return true
		}
	}
	return false
}

func (p *planner) remove(d libvirt.Domain) {
	vp := VMPlan{Name: d.Name, Status: StatusRemove, Running: d.Active}
	why := "not in the config"
	if vm, ok := p.c.VMs[d.Name]; ok && !vm.Enabled() {
		why = "disabled in the config"
	} else if p.c.Enable != nil && !*p.c.Enable {
		why = "the config is disabled (enable: false)"
	}
	if d.Active {
		p.add(Action{Kind: ActStopDomain, VM: d.Name, Target: d.Name, Needs: []string{NeedRestart},
			Reason: why + "; it is running, so it is powered off only with --restart"})
	}
	if d.Persistent {
		r := why
		if d.Active {
			r += "; undefined now, it disappears when it stops"
		}
		p.add(Action{Kind: ActUndefineDomain, VM: d.Name, Target: d.Name, Reason: r + " (NVRAM and TPM state kept unless --delete-disks)"})
		vp.Reason = why + "; its disk is kept unless --delete-disks"
	} else {
		vp.Reason = why + "; still running without a definition, apply --restart powers it off"
	}
	for _, v := range p.systemDisks(d) {
		needs := []string{NeedDeleteDisks}
		r := "--delete-disks: the removed VM's disk"
		if d.Active {
			needs = append(needs, NeedRestart)
			r += " (in use until the VM stops, so only with --restart)"
		}
		p.add(Action{Kind: ActDeleteVolume, VM: d.Name, Target: v.Pool + "/" + v.Name, Pool: v.Pool, Reason: r, Needs: needs})
	}
	p.plan.VMs = append(p.plan.VMs, vp)
}

// systemDisks finds the disk deskvm created for a domain: the volume named
// domainxml.DiskVolume(name) that one of its disks uses. Other disks
// (extraDevices, CD-ROMs, base images) are not deskvm's to delete.
func (p *planner) systemDisks(d libvirt.Domain) []libvirt.Volume {
	doc := d.InactiveXML
	if doc == "" {
		doc = d.LiveXML
	}
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(doc); err != nil || dom.Devices == nil {
		return nil
	}
	want := domainxml.DiskVolume(d.Name)
	var out []libvirt.Volume
	for _, disk := range dom.Devices.Disks {
		if disk.Device != "disk" || disk.Source == nil {
			continue
		}
		switch {
		case disk.Source.Volume != nil && disk.Source.Volume.Volume == want:
			if v, ok := p.poolVolumes[disk.Source.Volume.Pool][want]; ok {
				out = append(out, v)
			}
		case disk.Source.File != nil && path.Base(disk.Source.File.File) == want:
			for _, vols := range p.poolVolumes {
				if v, ok := vols[want]; ok && v.Path == disk.Source.File.File {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// usedPools are the pools the enabled VMs put disks in, with the
// directory each must have.
func (p *planner) usedPools(enabled []string) map[string]string {
	if len(enabled) == 0 {
		return nil // no VMs, no disks: a config without VMs creates nothing
	}
	out := map[string]string{p.c.DefaultStoragePool: p.c.DefaultStoragePath}
	for _, n := range enabled {
		pool := p.c.VMs[n].StoragePool
		if pool == "" || pool == p.c.DefaultStoragePool {
			continue
		}
		out[pool] = PoolPath(p.c, pool)
	}
	return out
}

// PoolPath is the directory deskvm gives a pool a VM names that does not
// exist yet: a sibling of defaultStoragePath named like the pool.
func PoolPath(c *config.Config, pool string) string {
	if pool == c.DefaultStoragePool {
		return c.DefaultStoragePath
	}
	return filepath.Join(filepath.Dir(c.DefaultStoragePath), pool)
}

func (p *planner) storagePools(enabled []string) {
	used := p.usedPools(enabled)
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		want := used[name]
		have, ok := p.pools[name]
		if !ok {
			r := "storage pool for VM disks"
			p.add(Action{Kind: ActDefinePool, Target: name, Pool: name, Path: want, Reason: r + " at " + want})
			p.add(Action{Kind: ActBuildPool, Target: name, Pool: name, Reason: "create its directory"})
			p.add(Action{Kind: ActStartPool, Target: name, Pool: name, Reason: "activate it"})
			p.add(Action{Kind: ActPoolAutostart, Target: name, Pool: name, Autostart: true, Reason: "activate it with libvirtd"})
			continue
		}
		// The default pool's path is what disk paths are rendered from.
		if name == p.c.DefaultStoragePool && filepath.Clean(have.Path) != filepath.Clean(want) {
			p.problem("defaultStoragePath", "storage pool %q exists at %s, not at %s; set defaultStoragePath: %s or use another defaultStoragePool",
				name, have.Path, want, have.Path)
			continue
		}
		if !have.Active {
			p.add(Action{Kind: ActStartPool, Target: name, Pool: name, Reason: "the pool is inactive"})
		}
		if !have.Autostart && have.Persistent {
			p.add(Action{Kind: ActPoolAutostart, Target: name, Pool: name, Autostart: true, Reason: "the pool does not start with libvirtd"})
		}
	}
}

func (p *planner) vm(name string) {
	c := p.c
	vm := c.VMs[name]
	vp := VMPlan{Name: name}
	d, exists := p.domains[name]
	if exists && !p.managed(d) {
		vp.Status = StatusError
		vp.Reason = fmt.Sprintf("domain %q exists and is not managed by deskvm; rename or remove it (nothing was touched)", name)
		p.plan.VMs = append(p.plan.VMs, vp)
		return
	}
	var ropts []domainxml.Option
	if pw, ok := p.opts.GraphicsPasswords[name]; ok {
		ropts = append(ropts, domainxml.WithGraphicsPassword(pw))
	}
	dom, err := domainxml.Render(c, name, p.f, ropts...)
	if err != nil {
		p.problem("vms."+name, "%v", err)
		return
	}
	desiredXML, err := dom.Marshal()
	if err != nil {
		p.problem("vms."+name, "render: %v", err)
		return
	}
	autoStart := vm.AutoStart != nil && *vm.AutoStart
	vp.Running = exists && d.Active

	var reasons []string
	create := !exists
	switch {
	case create:
		vp.Status = StatusCreate
		reasons = append(reasons, "not defined in libvirt")
	case !d.Persistent:
		// A managed domain running without a definition (left by an
		// earlier removal): define it again.
		vp.Status = StatusUpdate
		reasons = append(reasons, "running without a persistent definition")
	default:
		// The rendered hash covers the config and what it is rendered with
		// (other VMs' pinning, host firmware paths), unlike config.Hash.
		if why := domainxml.DefinitionChange(d.InactiveXML, desiredXML); why != "" {
			vp.Status = StatusUpdate
			reasons = append(reasons, why)
		} else {
			vp.Status = StatusUnchanged
		}
	}

	// Disk before define: the definition names it.
	p.disk(name, vm, dom, d, exists, create, &reasons)

	if vp.Status != StatusUnchanged {
		observed := d.InactiveXML
		if observed == "" {
			observed = d.LiveXML
		}
		if observed != "" {
			if diff, err := DomainDiff(name, observed, desiredXML); err == nil {
				vp.Diff = diff
			}
		}
		p.add(Action{Kind: ActDefineDomain, VM: name, Target: name, XML: desiredXML, Create: create,
			Reason: strings.Join(reasons, "; ")})
	}
	if (create && autoStart) || (exists && d.Persistent && d.Autostart != autoStart) || (exists && !d.Persistent && autoStart) {
		r := "autoStart is true"
		if !autoStart {
			r = "autoStart is false"
		}
		p.add(Action{Kind: ActSetAutostart, VM: name, Target: name, Autostart: autoStart, Create: create, Reason: r})
		if vp.Status == StatusUnchanged {
			vp.Status = StatusUpdate
		}
		reasons = append(reasons, "autostart "+onOffWord(autoStart))
	}

	running := exists && d.Active
	if running && domainxml.DefinitionChange(d.LiveXML, desiredXML) != "" {
		vp.PendingRestart = true
		if vp.Status == StatusUnchanged {
			vp.Status = StatusPendingRestart
			reasons = append(reasons, "running with an older definition")
			if diff, err := DomainDiff(name, d.LiveXML, desiredXML); err == nil {
				vp.Diff = diff
			}
		}
		p.add(Action{Kind: ActRestartDomain, VM: name, Target: name, Needs: []string{NeedRestart},
			Reason: "the running VM uses its old definition; the new one takes effect when it restarts"})
	}
	if autoStart && !running {
		p.add(Action{Kind: ActStartDomain, VM: name, Target: name, Reason: "autoStart is true and the VM is not running"})
		if vp.Status == StatusUnchanged {
			vp.Status = StatusUpdate
			reasons = append(reasons, "start it (autoStart)")
		}
	}
	if len(reasons) == 0 {
		reasons = append(reasons, "matches the config")
	}
	vp.Reason = strings.Join(reasons, "; ")
	p.plan.VMs = append(p.plan.VMs, vp)
}

func onOffWord(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// disk plans the VM's system disk volume: create when missing, grow when
// diskSize grew; a shrink stops the plan.
func (p *planner) disk(name string, vm *config.VM, dom *libvirtxml.Domain, d libvirt.Domain, exists, create bool, reasons *[]string) {
	pool := vm.StoragePool
	if pool == "" {
		pool = p.c.DefaultStoragePool
	}
	volName := domainxml.DiskVolume(name)
	want := vm.DiskSize.Bytes()
	have, ok := p.poolVolumes[pool][volName]
	if !ok {
		spec := &libvirt.VolumeSpec{Name: volName, Capacity: want, Format: "qcow2"}
		r := fmt.Sprintf("qcow2 system disk of %s", units.FormatSize(want))
		if vm.Disk.BaseImage != "" {
			spec.BackingPath, spec.BackingFormat = vm.Disk.BaseImage, "qcow2"
			r += " on top of " + vm.Disk.BaseImage
		}
		p.add(Action{Kind: ActCreateVolume, VM: name, Target: pool + "/" + volName, Pool: pool, Volume: spec,
			Capacity: want, Create: create, Reason: r})
		if !create {
			*reasons = append(*reasons, "disk missing")
		}
		return
	}
	switch {
	case want < have.Capacity:
		p.problem("vms."+name+".diskSize", "%s is smaller than the existing disk %s (%s); deskvm never shrinks disks",
			vm.DiskSize, have.Path, units.FormatSize(have.Capacity))
	case want > have.Capacity:
		a := Action{Kind: ActGrowVolume, VM: name, Target: pool + "/" + volName, Pool: pool, Capacity: want,
			Reason: fmt.Sprintf("diskSize grew from %s to %s", units.FormatSize(have.Capacity), units.FormatSize(want))}
		if exists && d.Active {
			a.Live = true
			a.DiskDev = diskTarget(dom, have)
			a.Reason += " (resized live; the guest must grow its partition)"
		}
		p.add(a)
		*reasons = append(*reasons, "disk grows")
	}
}

// diskTarget is the target dev of the rendered disk that uses the volume.
func diskTarget(dom *libvirtxml.Domain, v libvirt.Volume) string {
	if dom.Devices == nil {
		return ""
	}
	for _, disk := range dom.Devices.Disks {
		if disk.Device != "disk" || disk.Source == nil || disk.Target == nil {
			continue
		}
		if (disk.Source.File != nil && disk.Source.File.File == v.Path) ||
			(disk.Source.Volume != nil && disk.Source.Volume.Volume == v.Name) {
			return disk.Target.Dev
		}
	}
	return ""
}

// hugepages sizes the 2M pool. Without onDemand it holds hugepages.count
// (computed from all enabled VMs when 0). With onDemand apply reserves
// only what the VMs that run after apply need; `deskvm vm start`/`stop`
// grow and shrink the pool around each VM. 1G pages cannot be allocated
// reliably at run time, so plan only tells the kernel command line.
func (p *planner) hugepages(enabled []string) {
	c := p.c
	if !c.UsesHugepages() || len(enabled) == 0 {
		return
	}
	sizeKiB := c.HugepageSizeBytes() / 1024
	var have uint64
	if p.f != nil {
		have = p.f.Hugepages[sizeKiB].Total
	}
	if sizeKiB != 2048 {
		need := uint64(c.HugepageCount())
		if have < need {
			p.plan.Notes = append(p.plan.Notes, fmt.Sprintf(
				"hugepages: %d pages of %s are needed and the host has %d; 1G pages must be reserved at boot: add `default_hugepagesz=1G hugepagesz=1G hugepages=%d` to the kernel command line (NixOS: boot.kernelParams) and reboot",
				need, units.FormatSize(sizeKiB*1024), have, need))
		}
		return
	}
	if r := p.opts.RemoteHost; r != "" {
		need := uint64(c.HugepageCount())
		if c.Hugepages.OnDemand != nil && *c.Hugepages.OnDemand {
			p.plan.Notes = append(p.plan.Notes, fmt.Sprintf(
				"hugepages.onDemand: pages are allocated by deskvm only when libvirt runs on the machine deskvm runs on, not on %s", r))
		}
		if have < need {
			p.plan.Notes = append(p.plan.Notes, fmt.Sprintf(
				"hugepages: the VMs need %d pages of 2M on %s, which has %d; deskvm sizes the pool only on the machine it runs on: set vm.nr_hugepages = %d on %s (NixOS: boot.kernel.sysctl)",
				need, r, have, need, r))
		}
		return
	}
	var want uint64
	var why string
	if c.Hugepages.OnDemand != nil && *c.Hugepages.OnDemand {
		// Decided after the VMs are planned (which of them will run).
		p.plan.Notes = append(p.plan.Notes, "hugepages.onDemand: pages are allocated when deskvm starts a VM and released when it stops")
		var run []string
		for _, n := range enabled {
			d, ok := p.domains[n]
			vm := c.VMs[n]
			if (ok && d.Active) || (vm.AutoStart != nil && *vm.AutoStart) {
				run = append(run, n)
			}
		}
		want = uint64(c.HugepagesFor(run))
		why = fmt.Sprintf("onDemand: pages for the VMs running after apply (%s)", strings.Join(run, ", "))
		if have >= want {
			return // never take pages away from running VMs here
		}
	} else {
		want = uint64(c.HugepageCount())
		why = "hugepages.count"
		if c.Hugepages.Count == 0 {
			why = "computed from the enabled VMs' memory"
		}
	}
	if want == have {
		return
	}
	p.add(Action{Kind: ActSetHugepages, Target: "hugepages", PageKiB: sizeKiB, Pages: want,
		Reason: fmt.Sprintf("%d pages of 2M (%s); the host has %d", want, why, have)})
}

func (p *planner) firewall() {
	ports, why := displayPorts(p.c)
	if r := p.opts.RemoteHost; r != "" {
		if len(ports) > 0 {
			var rs []string
			for _, pr := range ports {
				rs = append(rs, pr.String())
			}
			p.plan.Notes = append(p.plan.Notes, fmt.Sprintf(
				"firewall: open TCP %s on %s for %s; deskvm sets firewall rules only on the machine it runs on",
				strings.Join(rs, ", "), r, strings.Join(why, "; ")))
		}
		return
	}
	st := p.obs.Firewall
	if st == nil {
		if len(ports) > 0 {
			p.problem("firewallPorts", "display ports must be opened but the firewall cannot be read: %s", p.obs.FirewallErr)
		}
		return
	}
	if len(ports) == 0 {
		if st.Present {
			p.add(Action{Kind: ActFirewall, Target: "firewall", Script: host.FirewallScript(p.opts.FirewallTable, nil),
				Reason: "no display listens beyond loopback with its firewall port switched on; remove table inet " + p.opts.FirewallTable})
		}
		return
	}
	if st.Present && st.Intact && host.SameRanges(st.Ports, ports) {
		return
	}
	p.add(Action{Kind: ActFirewall, Target: "firewall", Script: host.FirewallScript(p.opts.FirewallTable, ports),
		Reason: "open display ports: " + strings.Join(why, "; ")})
}
