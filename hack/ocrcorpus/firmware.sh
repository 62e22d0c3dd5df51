#!/bin/bash
# Firmware and boot loader screens under QEMU (TCG): GRUB and systemd-boot
# menus on an ESP under OVMF, OVMF's setup pages (reached through GRUB's
# "UEFI Firmware Settings" entry), the UEFI shell, SeaBIOS and iPXE.
# Keys go through QEMU's monitor (sendkey), screens come from screendump.
# The waits are generous for a busy 2-core machine without KVM.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

VM_DIR=$(mktemp -d /tmp/ocrcorpus-fw.XXXXXX)
trap 'vm_stop; rm -rf "$VM_DIR"' EXIT
NIC=(-nic user,model=virtio-net-pci,mac=52:54:00:12:34:56)
# section NAME: whether to make the screens of NAME (all, or those named
# on the command line: grub pxe shell sdboot seabios).
section() { [ $# -eq 0 ] || [ -z "${SECTIONS:-}" ] || [[ " $SECTIONS " == *" $1 "* ]]; }
SECTIONS="$*"

### GRUB (standalone EFI image), then OVMF's setup through "fwsetup"
cat >"$VM_DIR/grub.cfg" <<'CFG'
set timeout=-1
menuentry 'Debian GNU/Linux' { echo 'Loading Linux 6.1.0-13-amd64 ...'; linux /vmlinuz-6.1.0-13-amd64 root=UUID=3f6a1c2e-8b4d-4e7a-9c1f-2d5b6a7e8f90 ro quiet; }
submenu 'Advanced options for Debian GNU/Linux' { menuentry 'Debian GNU/Linux, with Linux 6.1.0-13-amd64 (recovery mode)' { true; } }
menuentry 'Windows Boot Manager (on /dev/sda1)' { chainloader /EFI/Microsoft/Boot/bootmgfw.efi; }
menuentry 'Memory test (memtest86+x64.efi)' { true; }
menuentry 'UEFI Firmware Settings' { fwsetup; }
CFG
grub-mkstandalone -O x86_64-efi -o "$VM_DIR/grubx64.efi" --modules="part_gpt fat" "boot/grub/grub.cfg=$VM_DIR/grub.cfg"
esp "$VM_DIR/grub.img" "$VM_DIR/grubx64.efi=/EFI/BOOT/BOOTX64.EFI"
section grub && {
ovmf -drive "file=$VM_DIR/grub.img,format=raw,if=ide" "${NIC[@]}"
sleep 20
key down down; sleep 1; dump grub-menu
key up up e; sleep 2; dump grub-edit
key esc; sleep 1; key c; sleep 1
typestr "ls"; key ret; typestr "lsefisystab"; key ret; typestr "search.fs_label ESP"; key ret; sleep 2
dump grub-cmdline
key esc; sleep 1; key down down down down ret; sleep 40
dump ovmf-front
key down ret; sleep 4; dump ovmf-device-manager
key esc; sleep 3; key down ret; sleep 4; dump ovmf-boot-manager
key esc; sleep 3; key down ret; sleep 4; dump ovmf-boot-maintenance
key ret; sleep 4; dump ovmf-boot-options
vm_stop
}

### OVMF trying its boot options: a disk with no loader, then iPXE
printf 'echo deskvm corpus startup\n' >"$VM_DIR/startup.txt"
esp "$VM_DIR/data.img" "$VM_DIR/grub.cfg=/boot/grub/grub.cfg" "$VM_DIR/startup.txt=/notes/README.TXT"
section pxe && {
	ovmf -drive "file=$VM_DIR/data.img,format=raw,if=ide" -nic user,model=e1000e,mac=52:54:00:12:34:56
	sleep 50; dump ovmf-pxe
	vm_stop
}

### The UEFI shell: no network, a disk with no boot loader
section shell && {
	ovmf -drive "file=$VM_DIR/data.img,format=raw,if=ide" -nic none
	sleep 45; dump uefi-shell-map
	typestr "ver"; key ret; sleep 2; typestr "fs0:"; key ret; sleep 1; typestr "ls boot\\grub"; key ret; sleep 3
	dump uefi-shell-ls
	typestr "cls"; key ret; sleep 1; typestr "pci"; key ret; sleep 4; dump uefi-shell-pci
	typestr "cls"; key ret; sleep 1; typestr "bcfg boot dump"; key ret; sleep 4; dump uefi-shell-bcfg
	vm_stop
}

### systemd-boot
cat >"$VM_DIR/loader.conf" <<'CFG'
timeout menu-force
console-mode keep
editor yes
CFG
cat >"$VM_DIR/debian.conf" <<'CFG'
title      Debian GNU/Linux 12 (bookworm)
version    6.1.0-13-amd64
linux      /vmlinuz-6.1.0-13-amd64
options    root=UUID=3f6a1c2e-8b4d-4e7a-9c1f-2d5b6a7e8f90 ro quiet
CFG
cat >"$VM_DIR/fallback.conf" <<'CFG'
title      Debian GNU/Linux 12 (fallback initramfs)
version    6.1.0-13-amd64
linux      /vmlinuz-6.1.0-13-amd64
options    root=UUID=3f6a1c2e-8b4d-4e7a-9c1f-2d5b6a7e8f90 ro single
CFG
cat >"$VM_DIR/arch.conf" <<'CFG'
title      Arch Linux (linux-lts)
linux      /vmlinuz-linux-lts
options    root=PARTUUID=5d1e2f3a-0b4c-4d6e-8f9a-1b2c3d4e5f60 rw
CFG
esp "$VM_DIR/sdboot.img" /usr/lib/systemd/boot/efi/systemd-bootx64.efi=/EFI/BOOT/BOOTX64.EFI \
	"$VM_DIR/loader.conf=/loader/loader.conf" "$VM_DIR/debian.conf=/loader/entries/debian.conf" \
	"$VM_DIR/fallback.conf=/loader/entries/debian-fallback.conf" "$VM_DIR/arch.conf=/loader/entries/arch.conf" \
	"$VM_DIR/grub.cfg=/vmlinuz-6.1.0-13-amd64" "$VM_DIR/grub.cfg=/vmlinuz-linux-lts"
section sdboot && {
ovmf -drive "file=$VM_DIR/sdboot.img,format=raw,if=ide" -nic none
sleep 25; key down; sleep 1; dump sdboot-menu
key h; sleep 1; dump sdboot-help
key e; sleep 2; dump sdboot-edit
vm_stop
}

### SeaBIOS: boot menu, then iPXE trying the network
section seabios && {
vm_start -boot menu=on,splash-time=15000 -drive "file=$VM_DIR/grub.img,format=raw,if=ide" "${NIC[@]}" \
	-drive "file=$VM_DIR/data.img,format=raw,if=none,id=d2" -device virtio-blk-pci,drive=d2
sleep 6; key esc; sleep 3; dump seabios-menu
key 5; sleep 25; dump seabios-ipxe
vm_stop
}
