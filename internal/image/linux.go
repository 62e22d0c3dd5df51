package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/deskvm/deskvm/internal/hostfacts"
	"github.com/deskvm/deskvm/internal/image/fetch"
	"github.com/deskvm/deskvm/internal/image/seed"
	"github.com/deskvm/deskvm/internal/qemu"
)

// linuxBuild is the typed state the Linux steps share.
type linuxBuild struct {
	buildCommon
	fw      hostfacts.Firmware
	userKey string // the recipe's public key line, "" when generated

	work     string // OUT/.NAME.build-*, removed at the end
	base     fetch.Result
	disk     string // overlay on the cloud image
	buildKey KeyPair
	hostKey  KeyPair // the build VM's SSH host key, given to it in the seed
	seedArgs seed.Args
	seedISO  string
	guest    *guest
}

func newLinuxBuild(ctx context.Context, r *Recipe, src *Source, opts Options) (*linuxBuild, error) {
	b := &linuxBuild{buildCommon: newBuildCommon(r, src, opts)}
	b.fw, _ = hostFirmware()
	var err error
	if b.recipeDigest, err = r.Digest(src); err != nil {
		return nil, err
	}
	if r.SSHPublicKey != "" {
		if b.userKey, err = readPublicKey(r.SSHPublicKey, src); err != nil {
			return nil, err
		}
	}
	if b.tools, err = toolVersions(ctx, opts.Version, r.Firmware, b.fw.Code); err != nil {
		return nil, err
	}
	return b, nil
}

// readPublicKey returns the authorized_keys line of sshPublicKey: the key
// itself or the file it names.
func readPublicKey(v string, src *Source) (string, error) {
	line := strings.TrimSpace(v)
	where := "sshPublicKey"
	if !looksLikeKey(line) {
		path := src.ResolvePath(v)
		data, err := os.ReadFile(path)
		if err != nil {
			return "", src.Problem("sshPublicKey", "cannot read the key file: %v", err)
		}
		line = strings.TrimSpace(string(data))
		where = path
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil {
		return "", src.Problem("sshPublicKey", "%s is not an SSH public key: %v", where, err)
	}
	if strings.Contains(line, "PRIVATE KEY") {
		return "", src.Problem("sshPublicKey", "%s is a private key; give the .pub file", where)
	}
	return line, nil
}

// inputRecords names the inputs by digest without downloading: a URL's
// digest is the pinned one, a path is hashed (once; the fetcher
// remembers it by size and modification time).
func (b *linuxBuild) inputRecords(ctx context.Context, fetchIt bool) error {
	ci := b.r.CloudImage
	rec := InputRecord{Name: "cloudImage", URL: ci.URL, SHA256: ci.SHA256}
	src := fetch.Source{URL: ci.URL, SHA256: ci.SHA256}
	if ci.Path != "" {
		src = fetch.Source{Path: b.src.ResolvePath(ci.Path), SHA256: ci.SHA256}
		rec.Path = src.Path
	}
	if fetchIt || ci.Path != "" {
		var res fetch.Result
		var err error
		if fetchIt {
			res, err = b.opts.Fetcher.Fetch(ctx, "cloud image", src)
		} else {
			var ok bool
			res, ok, err = b.opts.Fetcher.Lookup(ctx, src)
			if err == nil && !ok {
				err = fmt.Errorf("cloud image %s is not available", src.Path)
			}
		}
		if err != nil {
			if ci.Path != "" {
				return b.src.Problem("cloudImage.path", "%v", err)
			}
			return fmt.Errorf("cloudImage: %w", err)
		}
		b.base = res
		rec.SHA256, rec.Size = res.SHA256, res.Size
	}
	b.inputs = []InputRecord{rec}
	if b.userKey != "" {
		sum := sha256Hex([]byte(b.userKey))
		b.inputs = append(b.inputs, InputRecord{Name: "sshPublicKey", SHA256: sum})
	}
	return nil
}

func (b *linuxBuild) run(ctx context.Context) (*Result, error) {
	return b.runPipeline(ctx, b.inputRecords, b.stepList)
}

func (b *linuxBuild) stepList() []Step {
	steps := []Step{
		{"fetch cloud image", b.stepFetch},
		{"prepare disk", b.stepDisk},
		{"make seed", b.stepSeed},
		{"boot", b.stepBoot},
		{"wait for ssh", b.stepWaitSSH},
		{"wait for cloud-init", b.stepCloudInit},
		{"check configuration", b.stepCheckConfig},
		{"health check", b.stepHealth},
	}
	if *b.r.Finalize {
		steps = append(steps, Step{"generalize", b.stepGeneralize})
	}
	return append(steps,
		Step{"power off", b.stepPowerOff},
		Step{"compact", b.stepCompact},
		Step{"write outputs", b.stepOutputs},
	)
}

func (b *linuxBuild) stepFetch(ctx context.Context) error {
	work, err := os.MkdirTemp(b.out.Dir, "."+b.r.Name+".build-")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	b.work = work
	b.cleanups.Push("work directory "+work, func(context.Context) error { return os.RemoveAll(work) })
	return b.inputRecords(ctx, true)
}

func (b *linuxBuild) stepDisk(ctx context.Context) error {
	info, err := qemuImgInfo(ctx, b.base.Path)
	if err != nil {
		return err
	}
	if info.Format != "qcow2" && info.Format != "raw" {
		return fmt.Errorf("cloud image %s is %s; want qcow2 or raw", b.base.Path, info.Format)
	}
	size := int64(b.r.DiskSize.Bytes())
	if size < info.VirtualSize {
		return b.src.Problem("diskSize", "%s is smaller than the cloud image's virtual size %s", b.r.DiskSize, HumanBytes(info.VirtualSize))
	}
	// An overlay boots at once; compaction flattens it into one file.
	b.disk = filepath.Join(b.work, "disk.qcow2")
	return runTool(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", info.Format, "-b", b.base.Path, b.disk, strconv.FormatInt(size, 10))
}

func (b *linuxBuild) stepSeed(ctx context.Context) error {
	var err error
	if b.buildKey, err = NewKeyPair("deskvm-build-" + b.r.Name); err != nil {
		return err
	}
	keys := []string{b.buildKey.Public}
	if b.userKey != "" {
		keys = append(keys, b.userKey)
	}
	if b.hostKey, err = NewKeyPair("deskvm-build-host"); err != nil {
		return err
	}
	b.seedArgs = seedArgs(b.r, newInstanceID(b.r.Name), b.r.Username, keys, b.hostKey)
	b.seedISO, err = writeSeed(b.work, b.seedArgs)
	return err
}

// seedArgs is the cloud-init configuration of a recipe. The guest gets
// hostKey as its SSH host key, so the builder knows it before it connects.
func seedArgs(r *Recipe, instanceID, user string, keys []string, hostKey KeyPair) seed.Args {
	a := seed.Args{
		InstanceID: instanceID, Hostname: r.Hostname, Username: user, SSHAuthorizedKeys: keys,
		MAC: MACAddress, Packages: r.Packages, RunCmd: r.RunCmd,
		HostKeys: map[string]seed.HostKey{"ed25519": hostKey.seedHostKey()},
	}
	if r.InstallNix {
		// cloud-init installs packages before it runs runcmd (both in
		// its final stage), so the group exists by then.
		a.Packages = append(slices.Clone(a.Packages), nixPackages...)
		a.RunCmd = append(slices.Clone(a.RunCmd), "usermod -aG nix-users "+shq(user))
	}
	for _, f := range r.WriteFiles {
		a.WriteFiles = append(a.WriteFiles, seed.File{Path: f.Path, Content: f.Content, Permissions: f.Permissions, Owner: f.Owner})
	}
	return a
}

func (b *linuxBuild) bootSpec() bootSpec {
	s := bootSpec{
		Name: b.r.Name, Disk: b.disk, Firmware: b.r.Firmware, MemoryMiB: b.r.Memory.MiB, CPUs: b.r.CPUs,
		SeedISO: b.seedISO, User: b.r.Username, SSHPort: b.r.SSHPort, Work: b.work, Accel: b.opts.Accel, Log: b.opts.Log,
	}
	if b.hostKey.PrivateKey != nil {
		s.HostKey = b.hostKey.PrivateKey.PublicKey()
	}
	return s
}

func (b *linuxBuild) stepBoot(ctx context.Context) error {
	g, err := bootGuest(ctx, b.bootSpec(), b.buildKey.PrivateKey, &b.cleanups)
	if errors.Is(err, qemu.ErrPortInUse) && b.r.SSHPort != 0 {
		return b.src.Problem("sshPort", "port %d on 127.0.0.1 is in use; pick another or leave sshPort out for a free one", b.r.SSHPort)
	}
	if err != nil {
		return err
	}
	b.guest = g
	b.opts.log().Debug("qemu command line", "argv", strings.Join(g.argv, " "))
	b.opts.note("qemu pid %d, ssh on %s, serial log %s", g.proc.Pid(), g.addr, g.serialLog)
	return nil
}

func (b *linuxBuild) stepWaitSSH(ctx context.Context) error {
	return b.guest.waitSSH(ctx, b.r.BootTimeout.Duration)
}

func (b *linuxBuild) stepCloudInit(ctx context.Context) error {
	return waitCloudInit(ctx, b.guest, b.r.BootTimeout.Duration)
}

// waitCloudInit waits for cloud-init to finish and requires it to have
// finished without errors.
func waitCloudInit(ctx context.Context, g *guest, timeout time.Duration) error {
	out, err := g.run(ctx, "cloud-init status --wait --long", timeout)
	if err == nil && !strings.Contains(out, "status: done") {
		// Seen on a second boot of a generalized image: exit 0 with no
		// status line. result.json is written when the last stage ends,
		// so it is the completion signal then.
		if res, rerr := g.run(ctx, "sudo cat /run/cloud-init/result.json", time.Minute); rerr == nil && strings.Contains(res, `"errors": []`) {
			return nil
		}
	}
	if err != nil || !strings.Contains(out, "status: done") {
		if ctx.Err() != nil {
			return err
		}
		status, _ := g.run(ctx, "cloud-init status --long; sudo cat /run/cloud-init/result.json", time.Minute)
		detail, _ := g.run(ctx, "sudo tail -n 25 /var/log/cloud-init-output.log | tr -d '\\000'", time.Minute)
		if err == nil {
			err = fmt.Errorf("cloud-init status: %s", strings.TrimSpace(out))
		}
		return fmt.Errorf("cloud-init did not finish cleanly: %w\n%s\n/var/log/cloud-init-output.log ends:\n%s", err, strings.TrimSpace(status), strings.TrimSpace(detail))
	}
	return nil
}

func (b *linuxBuild) stepCheckConfig(ctx context.Context) error {
	return checkConfig(ctx, b.guest, b.r)
}

// checkConfig checks over SSH that cloud-init did what the recipe asked:
// no module failed, every writeFiles entry has its content and mode, the
// runcmd script ran, the packages are installed.
func checkConfig(ctx context.Context, g *guest, r *Recipe) error {
	out, err := g.run(ctx, "sudo cat /run/cloud-init/result.json", time.Minute)
	if err != nil {
		return fmt.Errorf("cloud-init result: %w", err)
	}
	var res struct {
		V1 struct {
			Errors []string `json:"errors"`
		} `json:"v1"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return fmt.Errorf("cloud-init result.json: %w", err)
	}
	if len(res.V1.Errors) > 0 {
		return fmt.Errorf("cloud-init reported errors: %s", strings.Join(res.V1.Errors, "; "))
	}
	var problems []string
	for i, f := range r.WriteFiles {
		// sudo may warn on stderr (a host name not yet in /etc/hosts):
		// only stdout is parsed, by pattern.
		out, err := g.run(ctx, "sudo sha256sum "+shq(f.Path)+" 2>/dev/null && sudo stat -c 'mode=%a owner=%U:%G' "+shq(f.Path)+" 2>/dev/null", time.Minute)
		if err != nil {
			problems = append(problems, fmt.Sprintf("writeFiles[%d] %s: %v", i, f.Path, err))
			continue
		}
		sum, mode, owner := "", "", ""
		for _, line := range strings.Split(out, "\n") {
			fields := strings.Fields(line)
			switch {
			case len(fields) >= 2 && sha256RE.MatchString(fields[0]):
				sum = fields[0]
			case len(fields) == 2 && strings.HasPrefix(fields[0], "mode=") && strings.HasPrefix(fields[1], "owner="):
				mode, owner = strings.TrimPrefix(fields[0], "mode="), strings.TrimPrefix(fields[1], "owner=")
			}
		}
		if sum != sha256Hex([]byte(f.Content)) {
			problems = append(problems, fmt.Sprintf("writeFiles[%d] %s: content differs from the recipe", i, f.Path))
		}
		if want := strings.TrimLeft(f.Permissions, "0"); strings.TrimLeft(mode, "0") != want {
			problems = append(problems, fmt.Sprintf("writeFiles[%d] %s: mode %s, want %s", i, f.Path, mode, f.Permissions))
		}
		if f.Owner != "" && owner != ownerWithGroup(f.Owner) {
			problems = append(problems, fmt.Sprintf("writeFiles[%d] %s: owner %s, want %s", i, f.Path, owner, f.Owner))
		}
	}
	if len(r.RunCmd) > 0 {
		// cloud-init writes runcmd into this script and runs it in
		// scripts-user; a failing command is in result.json's errors.
		if _, err := g.run(ctx, "sudo test -s /var/lib/cloud/instance/scripts/runcmd", time.Minute); err != nil {
			problems = append(problems, "runcmd: cloud-init did not run it (no /var/lib/cloud/instance/scripts/runcmd)")
		}
	}
	for i, p := range r.Packages {
		if _, err := g.run(ctx, "dpkg-query -W -f='${Status}' "+shq(p)+" 2>/dev/null | grep -q 'install ok installed' || rpm -q "+shq(p)+" >/dev/null 2>&1", time.Minute); err != nil {
			problems = append(problems, fmt.Sprintf("packages[%d] %s is not installed (does the guest reach a package mirror?)", i, p))
		}
	}
	if r.InstallNix {
		// A login shell of the user (sudo -i: new group list) evaluates
		// through the daemon: Nix is installed, the daemon runs, the
		// user may use it.
		out, err := g.run(ctx, "sudo -iu "+shq(r.Username)+" nix-instantiate --eval --expr 'builtins.nixVersion' 2>&1", 2*time.Minute)
		if err != nil {
			problems = append(problems, fmt.Sprintf("installNix: nix-instantiate as %s failed: %v", r.Username, err))
		} else if !strings.Contains(out, `"`) {
			problems = append(problems, fmt.Sprintf("installNix: nix-instantiate printed %q, want a version string", strings.TrimSpace(out)))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// nixPackages install Nix with a nix-daemon on Debian and Ubuntu guests.
var nixPackages = []string{"nix-bin", "nix-setup-systemd"}

func ownerWithGroup(o string) string {
	if strings.Contains(o, ":") {
		return o
	}
	return o + ":" + o
}

func (b *linuxBuild) stepHealth(ctx context.Context) error {
	_, err := runHealth(ctx, b.guest, b.r.Health)
	return err
}

// runHealth runs the health command until it passes, 1+Retries times,
// and returns its output.
func runHealth(ctx context.Context, g *guest, h *Health) (string, error) {
	var last error
	for attempt := 0; attempt <= h.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(5 * time.Second):
			}
		}
		out, err := g.run(ctx, h.Command, h.Timeout.Duration)
		if err == nil && h.Expect != "" && !strings.Contains(out, h.Expect) {
			err = fmt.Errorf("output does not contain %q: %q", h.Expect, truncate(out, 300))
		}
		if err == nil {
			return out, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("health check %q failed %d time(s), last: %w", h.Command, h.Retries+1, last)
}

// generalizeScript makes the image anyone's: cloud-init runs again on
// the next boot (a new instance), the machine gets a new machine-id and
// new SSH host keys, and the build's own key is no longer authorized when
// the user brought theirs. A booted copy without a seed (a Desktop VM
// using the image as its base) has cloud-init disabled, so the image gets
// two fallbacks: a unit that makes missing host keys before sshd starts,
// and DHCP on every ethernet card whatever its MAC.
func generalizeScript(user, dropKeyComment string) string {
	s := []string{
		"set -e",
		"sudo cloud-init clean --logs",
		"sudo rm -f /etc/ssh/ssh_host_*",
		"sudo truncate -s 0 /etc/machine-id",
		"if [ -f /var/lib/dbus/machine-id ] && [ ! -L /var/lib/dbus/machine-id ]; then sudo rm -f /var/lib/dbus/machine-id; fi",
		"sudo rm -f /root/.bash_history " + shq("/home/"+user+"/.bash_history"),
		"printf '%s' " + shq(hostKeysUnit) + " | sudo tee /etc/systemd/system/deskvm-ssh-hostkeys.service >/dev/null",
		"sudo systemctl enable deskvm-ssh-hostkeys.service",
		"if [ -d /etc/netplan ]; then printf '%s' " + shq(netplanDHCP) + " | sudo tee /etc/netplan/90-deskvm-dhcp.yaml >/dev/null; sudo chmod 600 /etc/netplan/90-deskvm-dhcp.yaml; fi",
	}
	if dropKeyComment != "" {
		s = append(s, "sed -i "+shq("/ "+dropKeyComment+"$/d")+" ~/.ssh/authorized_keys")
	}
	s = append(s, "sudo fstrim -a || true", "sync")
	return strings.Join(s, "\n")
}

const hostKeysUnit = `[Unit]
Description=Make missing SSH host keys (deskvm generalized image)
After=cloud-init.service
Before=ssh.service sshd.service
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
`

const netplanDHCP = `# deskvm: DHCP on any ethernet card, for boots without a cloud-init seed.
network:
  version: 2
  ethernets:
    deskvm-en:
      match: {name: "en*"}
      dhcp4: true
    deskvm-eth:
      match: {name: "eth*"}
      dhcp4: true
`

func (b *linuxBuild) stepGeneralize(ctx context.Context) error {
	drop := ""
	if b.userKey != "" {
		drop = "deskvm-build-" + b.r.Name
	}
	_, err := b.guest.run(ctx, generalizeScript(b.r.Username, drop), 5*time.Minute)
	return err
}

func (b *linuxBuild) stepPowerOff(ctx context.Context) error {
	how, err := b.guest.poweroff(ctx, 3*time.Minute)
	b.opts.log().Info("guest powered off", "how", how)
	return err
}

func (b *linuxBuild) stepCompact(ctx context.Context) error {
	return b.compactDisk(ctx, b.disk)
}

func (b *linuxBuild) stepOutputs(ctx context.Context) error {
	m, err := b.newManifest(ctx)
	if err != nil {
		return err
	}
	m.Boot = BootRecord{Firmware: b.r.Firmware, MemoryMiB: b.r.Memory.MiB, CPUs: b.r.CPUs, Username: b.r.Username,
		Hostname: b.r.Hostname, Health: *b.r.Health, Generalized: *b.r.Finalize}

	// Everything but the manifest first; the manifest last, so a
	// manifest never names outputs that are not there.
	if b.userKey == "" {
		tmp := filepath.Join(b.work, "ssh")
		if err := b.buildKey.WriteFiles(tmp); err != nil {
			return err
		}
		os.RemoveAll(b.out.SSHDir())
		if err := os.Rename(tmp, b.out.SSHDir()); err != nil {
			return fmt.Errorf("ssh key: %w", err)
		}
		m.Boot.SSHKey = filepath.Base(b.out.SSHDir()) + "/id_ed25519"
	}
	spec := b.bootSpec()
	mach := spec.machine(b.fw, "", "", "", "", 1)
	mach.Name = b.r.Name
	mach.Drives[0] = qemu.Drive{ID: "disk", File: filepath.Base(b.out.Image()), Format: "qcow2", BootIndex: 1, Snapshot: true}
	mach.QMP = qemu.QMP{}
	if b.r.Firmware == "uefi" {
		if err := os.Rename(b.guest.vars, b.out.EFIVars()); err != nil {
			return fmt.Errorf("uefi vars: %w", err)
		}
		m.Boot.EFIVars = filepath.Base(b.out.EFIVars())
	}
	script, err := runScript(mach, b.r.Name)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(b.out.Run(), []byte(script), 0o755); err != nil {
		return fmt.Errorf("run script: %w", err)
	}
	return b.publish(m)
}
