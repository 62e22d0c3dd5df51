package domainxml

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/deskvm/deskvm/internal/config"
	"github.com/deskvm/deskvm/internal/libvirt"
	"github.com/deskvm/deskvm/internal/testutil"
)

// Integration tests: every golden file against libvirt's own schema and,
// for the TCG variants, against a real libvirtd (define --validate, then
// undefine). A few TCG domains are also started for a moment, because
// some mistakes (a Hyper-V flag TCG cannot do, a QEMU argument in the
// wrong syntax) only show when QEMU runs.

// testPrefix names every domain these tests create.
const testPrefix = "deskvm-test-dx-"

func goldenFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.golden")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files (%v)", err)
	}
	return files
}

func TestGoldenXMLValidatesAgainstSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (runs with make test)")
	}
	validate := testutil.RequiresCommand(t, "virt-xml-validate")
	files := goldenFiles(t)
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // each run is a short xmllint process
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if out, err := exec.Command(validate, f, "domain").CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("virt-xml-validate %s: %w\n%s", f, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func dial(t *testing.T) *libvirt.Conn {
	t.Helper()
	uri := testutil.RequiresLibvirt(t)
	conn, err := libvirt.Dial(context.Background(), uri, libvirt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	removeStale(t, conn)
	return conn
}

// removeDomain destroys and undefines a test domain with its NVRAM and
// TPM state; a domain that is not there is fine.
func removeDomain(t *testing.T, conn *libvirt.Conn, name string) {
	ctx := context.Background()
	d, err := conn.Domain(ctx, name)
	if errors.Is(err, libvirt.ErrNotFound) {
		return
	}
	if err != nil {
		t.Errorf("cleanup %s: %v", name, err)
		return
	}
	if d.Active {
		if err := conn.DestroyDomain(ctx, name); err != nil {
			t.Errorf("cleanup %s: %v", name, err)
		}
	}
	if err := conn.UndefineDomain(ctx, name, libvirt.UndefineOptions{RemoveNVRAM: true, RemoveTPM: true}); err != nil {
		t.Errorf("cleanup %s: %v", name, err)
	}
}

// removeStale clears domains a killed earlier run left behind.
func removeStale(t *testing.T, conn *libvirt.Conn) {
	ds, err := conn.Domains(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if strings.HasPrefix(d.Name, testPrefix) {
			removeDomain(t, conn, d.Name)
		}
	}
}

// renamed loads a golden domain and gives it a test name, with UUID,
// NVRAM and disk paths to match, so nothing clashes with real VMs.
func renamed(t *testing.T, file, name string) *libvirtxml.Domain {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d := &libvirtxml.Domain{}
	if err := d.Unmarshal(string(b)); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	old := d.Name
	d.Name = name
	d.UUID = config.UUIDFor(name)
	if d.OS != nil && d.OS.NVRam != nil {
		d.OS.NVRam.NVRam = NVRAMPath(name)
	}
	for i := range d.Devices.Disks {
		if src := d.Devices.Disks[i].Source; src != nil && src.File != nil && filepath.Base(src.File.File) == old+".qcow2" {
			src.File.File = filepath.Join(filepath.Dir(src.File.File), name+".qcow2")
		}
	}
	return d
}

func marshal(t *testing.T, d *libvirtxml.Domain) string {
	t.Helper()
	s, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGoldenXMLDefinesInLibvirt(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (runs with make test)")
	}
	conn := dial(t)
	ctx := context.Background()
	defined := 0
	for _, f := range goldenFiles(t) {
		base := strings.TrimSuffix(filepath.Base(f), ".golden")
		d := renamed(t, f, testPrefix+base)
		if d.Type != "qemu" {
			continue // type kvm: libvirt here has no /dev/kvm; the schema test covers it
		}
		t.Cleanup(func() { removeDomain(t, conn, d.Name) })
		if err := conn.DefineDomain(ctx, marshal(t, d)); err != nil {
			t.Errorf("%s: define with validation: %v", base, err)
			continue
		}
		defined++
		// What libvirt stored still carries deskvm's metadata.
		got, err := conn.Domain(ctx, d.Name)
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		want, _, _ := ParseMetadata(mustRead(t, f))
		md, ok, err := ParseMetadata(got.InactiveXML)
		if err != nil || !ok || md != want {
			t.Errorf("%s: metadata after define = %+v (ok %v, err %v), want %+v", base, md, ok, err, want)
		}
		removeDomain(t, conn, d.Name)
	}
	if defined < 20 {
		t.Errorf("only %d TCG goldens defined; the cases lost their TCG variants?", defined)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStartTCGDomains starts the domains whose trouble only QEMU sees.
func TestStartTCGDomains(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (runs with make test)")
	}
	conn := dial(t)
	qemuImg := testutil.RequiresCommand(t, "qemu-img")
	ctx := context.Background()
	for _, base := range []string{"combined-tcg", "macos-tcg"} {
		t.Run(base, func(t *testing.T) {
			t.Parallel() // most of the time is libvirt waiting for QEMU
			d := renamed(t, goldenPath(base), testPrefix+"start-"+base)
			// The libvirt "default" network may be inactive on test hosts.
			for i := range d.Devices.Interfaces {
				d.Devices.Interfaces[i].Source = &libvirtxml.DomainInterfaceSource{User: &libvirtxml.DomainInterfaceSourceUser{}}
			}
			for i := range d.Devices.Disks {
				// CD-ROM images must exist to start; the drive can be empty.
				if d.Devices.Disks[i].Device == "cdrom" {
					d.Devices.Disks[i].Source = nil
				}
			}
			for i := range d.Devices.Filesystems {
				// virtiofsd needs the shared directory to exist.
				d.Devices.Filesystems[i].Source.Mount.Dir = t.TempDir()
			}
			disk := d.Devices.Disks[0].Source.File.File
			if out, err := exec.Command(qemuImg, "create", "-q", "-f", "qcow2", disk, "64M").CombinedOutput(); err != nil {
				t.Fatalf("qemu-img create: %v\n%s", err, out)
			}
			t.Cleanup(func() { os.Remove(disk) })
			t.Cleanup(func() { removeDomain(t, conn, d.Name) })
			if err := conn.DefineDomain(ctx, marshal(t, d)); err != nil {
				t.Fatal(err)
			}
			if err := conn.StartDomain(ctx, d.Name); err != nil {
				t.Fatal(err)
			}
			got, err := conn.Domain(ctx, d.Name)
			if err != nil || got.State != libvirt.StateRunning {
				t.Fatalf("state = %q (%v), want running", got.State, err)
			}
		})
	}
}
