#!/bin/bash
# The Linux console of the tiny test guest (hack/tinyguest): kernel
# messages and a login prompt on tty1, in VGA text mode under SeaBIOS, on
# a VESA framebuffer, and with the 32-pixel Terminus font on OVMF's
# framebuffer; after logging in, commands with long identifiers.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/../.." && pwd)

VM_DIR=$(mktemp -d /tmp/ocrcorpus-console.XXXXXX)
trap 'vm_stop; rm -rf "$VM_DIR"' EXIT
tiny=$("$repo/hack/tinyguest/build.sh" "${TINYGUEST_DIR:-$repo/.cache/tinyguest}" | tail -1)

# A disk with one ext4 partition of a fixed UUID: /dev/vda1 in the guest.
disk=$VM_DIR/disk.img
truncate -s 64M "$disk"
sgdisk -o -n 1:2048:0 -t 1:8300 -c 1:"Linux filesystem" -u 1:5d1e2f3a-0b4c-4d6e-8f9a-1b2c3d4e5f60 "$disk" >/dev/null
mkfs.ext4 -q -F -E offset=1048576 -U 3f6a1c2e-8b4d-4e7a-9c1f-2d5b6a7e8f90 -L rootfs "$disk" 63M

# section NAME: whether to make the screens of NAME (all, or those named
# on the command line: vga fb large).
SECTIONS="$*"
section() { [ -z "$SECTIONS" ] || [[ " $SECTIONS " == *" $1 "* ]]; }

guest() { # guest APPEND [QEMU ARGS...]
	local append=$1
	shift
	vm_start -kernel "$tiny/vmlinuz" -initrd "$tiny/initrd.gz" -append "$append tinyguest.getty=tty1" \
		-drive "file=$disk,format=raw,if=none,id=d0" -device virtio-blk-pci,drive=d0 \
		-nic user,model=virtio-net-pci,mac=52:54:00:12:34:56 "$@"
}
login() {
	key ret; sleep 2
	typestr root; key ret; sleep 2
	typestr deskvm; key ret; sleep 3
}
run() { # run CMD: type a command line and give it time
	typestr "$1"; key ret; sleep "${2:-2}"
}

### VGA text mode (720×400), SeaBIOS
section vga && {
guest "console=ttyS0,115200n8 console=tty0 loglevel=6"
sleep 40; dump console-boot
login
run "clear"; run "uname -a"; run "cat /proc/cmdline"; run "ip addr show dev eth0"
dump console-ip
run "clear"; run "blkid /dev/vda1"; run "ls -l /dev/vda /dev/vda1"; run "cat /proc/partitions"; run "df -h /"
dump console-blkid
vm_stop
}

### VESA framebuffer 1024×768 (vga=792), 8×16 font
section fb && {
guest "console=tty0 vga=792" -vga std
sleep 45; dump console-fb-boot
login
run "clear"; run "cat /proc/version"; run "head -5 /proc/cpuinfo"; run "ls /sys/class/net/eth0"; run "cat /sys/class/net/eth0/address"
dump console-fb-shell
vm_stop
}

### OVMF framebuffer with fbcon=font:TER16x32 (OVMF itself takes ~40 s)
section large && {
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$VM_DIR/vars.fd"
guest "console=tty0 fbcon=font:TER16x32" -drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd" \
	-drive "if=pflash,format=raw,file=$VM_DIR/vars.fd"
sleep 70; dump console-large-boot
sleep 40
login
run "clear"; run "uname -r"; run "cat /sys/class/net/eth0/address"; run "blkid /dev/vda1"
dump console-large-shell
vm_stop
}
