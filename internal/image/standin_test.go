package image

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/deskvm/deskvm/internal/testutil"
)

// The stand-in for Windows Setup (no Windows media here): an ISO in the
// Windows layout (UDF + ISO 9660, boot/etfsboot.com, efi/boot/bootx64.efi,
// an El Torito EFI image efi/microsoft/boot/efisys.bin, sources/install.wim
// with the fixture's three editions) whose EFI loader is GRUB showing
// "Press any key to boot from CD or DVD..." for a few seconds, like
// Windows' cdboot.efi:
//
//   - a key pressed: "Setup" — the tiny guest's kernel boots with the
//     answer media's autounattend.xml (GRUB searches every drive for
//     /autounattend.xml, as Setup does, and hands the file over as part of
//     the initramfs). The guest takes the auto-logon account and password
//     from it (XML-unescaped), "installs" by writing the account (password
//     hashed) to the virtio disk, and reboots on its own, as Setup does;
//   - no key (the timeout): "boot from the disk" — the guest reads the
//     account from the disk and starts SSH with it; with nothing installed
//     it says so and powers off, which ends QEMU early (a missed prompt).
//
// The guest is hack/tinyguest with /init replaced by standinInit (an
// extra initramfs archive), which then runs the tiny guest's own init.

// standinGrubCfg is the stand-in's boot menu. GRUB unsets "fallback"
// when a key cancels the countdown and keeps it when the countdown runs
// out, which tells the two apart.
const standinGrubCfg = `set timeout_style=menu
set timeout=5
set default=0
set fallback=9
export fallback
# The kernel gets the firmware's framebuffer (efifb), so the guest's
# lines on tty1 are on the screen an automationConfig script reads.
set gfxpayload=keep
search --no-floppy --file --set=setup /deskvm/standin.cpio
export setup
menuentry "Press any key to boot from CD or DVD..." {
  if [ -z "$fallback" ]; then
    echo "deskvm-standin: key pressed: starting Setup"
    linux ($setup)/deskvm/vmlinuz console=ttyS0 deskvm.standin=setup deskvm.standin.reboot_after=%d
    initrd ($setup)/deskvm/initrd.gz ($setup)/deskvm/standin.cpio
  else
    echo "deskvm-standin: no key pressed: booting from the disk"
    linux ($setup)/deskvm/vmlinuz console=ttyS0 deskvm.standin=installed
    initrd ($setup)/deskvm/initrd.gz ($setup)/deskvm/standin.cpio
  fi
  boot
}
`

// standinInit is /init of the stand-in guest.
const standinInit = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs -o mode=0755 dev /dev
exec 0</dev/console 1>/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
opt() { for w in $(cat /proc/cmdline); do case $w in deskvm.standin$1=*) echo "${w#*=}"; return;; esac; done; }
# The serial console has the log; the screen (efifb + fbcon on tty1, read
# over VNC by an automationConfig script) shows the same lines.
say() { echo "deskvm-standin: $*"; echo "deskvm-standin: $*" > /dev/tty1 2>/dev/null; }
modprobe -a virtio_pci virtio_blk
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -b /dev/vda ] || { say "no virtio disk: Setup sees no disk"; sleep 5; poweroff -f; }
unxml() { sed -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&#34;/"/g' -e 's/&quot;/"/g' -e "s/&#39;/'/g" -e "s/&apos;/'/g" -e 's/&amp;/\&/g'; }
case $(opt "") in
setup)
	# Like Setup, look for autounattend.xml at the root of every CD.
	for m in scsi_common scsi_mod libata libahci ahci cdrom sr_mod isofs; do insmod /standin/$m.ko; done
	mkdir -p /media
	i=0; while [ ! -b /dev/sr0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
	sleep 1
	for d in /dev/sr*; do
		mount -t iso9660 -o ro $d /media 2>/dev/null || continue
		if [ -f /media/autounattend.xml ]; then
			cp /media/autounattend.xml /autounattend.xml
			say "setup: found autounattend.xml on $d (volume $(blkid $d 2>/dev/null | sed -n 's/.*LABEL="\([^"]*\)".*/\1/p'))"
		fi
		umount /media
	done
	[ -s /autounattend.xml ] || { say "setup: no autounattend.xml on any CD"; sleep 5; poweroff -f; }
	user=$(sed -n 's:.*<Username>\(.*\)</Username>.*:\1:p' /autounattend.xml | head -n 1 | unxml)
	pass=$(awk '/<AutoLogon>/{a=1} a && /<Value>/{sub(/.*<Value>/,""); sub(/<\/Value>.*/,""); print; exit}' /autounattend.xml | unxml)
	[ -n "$user" ] && [ -n "$pass" ] || { say "setup: no auto-logon account in autounattend.xml"; sleep 5; poweroff -f; }
	hash=$(mkpasswd -m sha512 "$pass")
	say "setup: answer file read from the answer media, account $user; installing to /dev/vda"
	printf 'DESKVM-STANDIN-INSTALLED\n%s\n%s\n' "$user" "$hash" | dd of=/dev/vda conv=notrunc 2>/dev/null
	sync
	after=$(opt .reboot_after)
	while [ "$(cut -d. -f1 /proc/uptime)" -lt "${after:-0}" ]; do sleep 1; done
	say "setup: done, rebooting"
	reboot -f
	;;
installed)
	dd if=/dev/vda of=/tmp/installed bs=4096 count=1 2>/dev/null
	if [ "$(head -n 1 /tmp/installed | tr -d '\000')" != DESKVM-STANDIN-INSTALLED ]; then
		say "no installation on the disk (nobody pressed a key at the CD prompt); powering off"
		sleep 2
		poweroff -f
	fi
	user=$(sed -n 2p /tmp/installed)
	hash=$(sed -n 3p /tmp/installed)
	echo "$user:x:1000:1000:$user:/home/$user:/bin/sh" >> /etc/passwd
	echo "$user:$hash:19000:0:99999:7:::" >> /etc/shadow
	echo "$user:x:1000:" >> /etc/group
	mkdir -p /home/$user && chown 1000:1000 /home/$user
	mkdir -p /run && echo "standin: Setup ran after a key press, read the answer file, rebooted; booted from the disk as $user" > /standin-proof
	say "installed: booting from the disk, account $user"
	;;
*)
	say "unknown mode"; poweroff -f;;
esac
umount /sys /proc
umount /dev 2>/dev/null
exec /init.tinyguest
`

var standinMods struct {
	sync.Mutex
	mods map[string][]byte
}

// standinModules are the kernel modules the tiny guest lacks to read a
// CD on the q35 AHCI controller (ata, scsi, sr, isofs), from the same
// Debian kernel package the tiny guest was built from (its build keeps
// the .deb).
func standinModules(t *testing.T, tg testutil.TinyGuestFiles) map[string][]byte {
	t.Helper()
	standinMods.Lock()
	defer standinMods.Unlock()
	if standinMods.mods != nil {
		return standinMods.mods
	}
	debs, _ := filepath.Glob(filepath.Join(tg.Dir, "debs", "linux-image-"+tg.KernelVersion+"_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("the tiny guest's kernel package is not in %s/debs (found %v)", tg.Dir, debs)
	}
	dir := t.TempDir()
	names := []string{"scsi_common", "scsi_mod", "libata", "libahci", "ahci", "cdrom", "sr_mod", "isofs"}
	var patterns []string
	for _, n := range names {
		patterns = append(patterns, "*/"+n+".ko")
	}
	args := append([]string{"-c", `deb=$1 dir=$2; shift 2; dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --wildcards "$@"`, "sh", debs[0], dir}, patterns...)
	cmd := exec.Command("sh", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("extract modules: %v\n%s", err, out)
	}
	mods := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			b, _ := os.ReadFile(p)
			mods[filepath.Base(p)] = b
		}
		return nil
	})
	if len(mods) != len(names) {
		t.Fatalf("kernel modules: found %d of %v", len(mods), names)
	}
	standinMods.mods = mods
	return mods
}

// newcArchive is an uncompressed cpio (newc) archive of files (mode
// 0755), at most one directory deep.
func newcArchive(files map[string][]byte) []byte {
	var b bytes.Buffer
	pad := func() {
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	write := func(name string, mode int, data []byte) {
		fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
		b.WriteString(name + "\x00")
		pad()
		b.Write(data)
		pad()
	}
	dirs := map[string]bool{}
	for name := range files {
		if d, _, ok := strings.Cut(name, "/"); ok && !dirs[d] {
			dirs[d] = true
			write(d, 0o40755, nil)
		}
	}
	for name, data := range files {
		write(name, 0o100755, data)
	}
	write("TRAILER!!!", 0, nil)
	return b.Bytes()
}

// standinISO builds the stand-in Windows ISO into dir (about 3 s) and
// returns its path. rebootAfter is the guest uptime at which "Setup"
// reboots (after the builder has stopped pressing keys).
func standinISO(t *testing.T, dir string, rebootAfter int) string {
	t.Helper()
	for _, c := range []string{"grub-mkstandalone", "mkfs.vfat", "mmd", "mcopy", "genisoimage"} {
		testutil.RequiresCommand(t, c)
	}
	if _, err := os.Stat("/usr/lib/grub/x86_64-efi"); err != nil {
		testutil.Missing(t, "GRUB EFI modules (grub-efi-amd64-bin)")
	}
	tg := testutil.TinyGuest(t)
	media := testutil.WindowsMediaFixture(t)
	tree := filepath.Join(dir, "tree")
	tinyInit, err := os.ReadFile("../../hack/tinyguest/rootfs/init")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"README.TXT":        []byte("deskvm stand-in for Windows Setup\r\n"),
		"setup.exe":         []byte("MZ stand-in"),
		"boot/etfsboot.com": []byte("stand-in BIOS boot sector"),
		"sources/boot.wim":  nil,
	}
	overlay := map[string][]byte{"init": []byte(standinInit), "init.tinyguest": tinyInit}
	for name, data := range standinModules(t, tg) {
		overlay["standin/"+name] = data
	}
	files["deskvm/standin.cpio"] = newcArchive(overlay)
	for name, src := range map[string]string{"sources/install.wim": media.InstallWIM, "deskvm/vmlinuz": tg.Kernel, "deskvm/initrd.gz": tg.Initrd} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	for name, data := range files {
		p := filepath.Join(tree, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	os.WriteFile(filepath.Join(dir, "grub.cfg"), []byte(fmt.Sprintf(standinGrubCfg, rebootAfter)), 0o644)
	efi := filepath.Join(tree, "efi/boot/bootx64.efi")
	os.MkdirAll(filepath.Dir(efi), 0o755)
	run("grub-mkstandalone", "-O", "x86_64-efi", "-o", efi, "--locales=", "--fonts=", "--themes=",
		"--modules=part_gpt part_msdos iso9660 udf linux normal search search_label search_fs_file echo sleep test halt efi_gop video",
		"boot/grub/grub.cfg=grub.cfg")
	efisys := filepath.Join(tree, "efi/microsoft/boot/efisys.bin")
	os.MkdirAll(filepath.Dir(efisys), 0o755)
	run("mkfs.vfat", "-C", efisys, "4096")
	run("mmd", "-i", efisys, "::/EFI", "::/EFI/BOOT")
	run("mcopy", "-i", efisys, efi, "::/EFI/BOOT/BOOTX64.EFI")
	iso := filepath.Join(dir, "standin-win11.iso")
	run("genisoimage", "-quiet", "-udf", "-J", "-R", "-joliet-long", "-V", "CCCOMA_X64FRE_EN-US_DV9",
		"-e", "efi/microsoft/boot/efisys.bin", "-no-emul-boot", "-o", iso, tree)
	os.RemoveAll(tree)
	return iso
}
