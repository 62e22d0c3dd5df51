#!/bin/bash
# GTK dialogs (zenity, yad) and xterm screens on Xvfb. Each screen is one
# program on an otherwise empty X screen (no window manager), dumped from
# Xvfb's -fbdir framebuffer file.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

work=$(mktemp -d /tmp/ocrcorpus-x11.XXXXXX)
xpid=""
cleanup() {
	[ -n "$xpid" ] && kill "$xpid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# startx W H: a fresh Xvfb of that size on a free display.
startx() {
	[ -n "$xpid" ] && { kill "$xpid"; wait "$xpid" 2>/dev/null || true; }
	local d
	for d in $(seq 140 199); do
		[ -e "/tmp/.X11-unix/X$d" ] || [ -e "/tmp/.X$d-lock" ] || break
	done
	mkdir -p "$work/fb"
	Xvfb ":$d" -screen 0 "${1}x${2}x24" -fbdir "$work/fb" -nolisten tcp >"$work/xvfb.log" 2>&1 &
	xpid=$!
	export DISPLAY=":$d"
	for _ in $(seq 100); do
		if [ -e "/tmp/.X11-unix/X$d" ] && xdpyinfo >/dev/null 2>&1; then
			# The pointer out of the way, in the top right corner.
			xdotool mousemove "$(($1 - 1))" 0
			return 0
		fi
		sleep 0.1
	done
	log "Xvfb :$d did not start"; cat "$work/xvfb.log" >&2; return 1
}

# gtkfont FONT: the GTK font of the following dialogs ("DejaVu Sans 10").
gtkfont() {
	mkdir -p "$work/config/gtk-3.0"
	printf '[Settings]\ngtk-font-name=%s\n' "$1" >"$work/config/gtk-3.0/settings.ini"
}

# shot NAME TITLE [KEYS] -- CMD...: run CMD, wait for its window titled
# TITLE, optionally press KEYS (xdotool key names), dump the screen.
shot() {
	local name=$1 title=$2 keys=$3
	shift 4
	XDG_CONFIG_HOME="$work/config" NO_AT_BRIDGE=1 "$@" >/dev/null 2>&1 &
	local pid=$!
	xdotool search --sync --onlyvisible --name "^$title\$" >/dev/null
	xdotool mousemove "$(xdpyinfo | awk '/dimensions:/ {split($2, a, "x"); print a[1] - 1}')" 0
	sleep 1
	if [ -n "$keys" ]; then
		# shellcheck disable=SC2086
		xdotool key --clearmodifiers $keys
		sleep 0.5
	fi
	sleep 0.5
	"$TOPNG" "$work/fb/Xvfb_screen0" "$OUT/$name.png"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	log "$name"
}

band() { # band BG FG TEXT: a heading on a coloured band (Pango markup)
	printf '<span background="%s" foreground="%s" size="x-large" weight="bold">  %s  </span>' "$1" "$2" "$3"
}

### GTK dialogs, 1024×768
startx 1024 768
gtkfont "DejaVu Sans 10"
shot gtk-http-boot "Network boot" "" -- zenity --question --title "Network boot" --width 560 \
	--text "<big><b>Enable UEFI HTTP boot?</b></big>

The firmware asks for an address by DHCP and loads the boot image
over HTTP from the deployment server. Disks on the SATA controller
are not touched. Choose No to keep PXE over TFTP."
shot gtk-identifiers "Device details" "" -- zenity --info --title "Device details" --width 600 \
	--text "Root partition: /dev/vda1 (ext4, x86_64)
MAC address: 52:54:00:12:34:56
Device path: PciRoot(0x0)/Pci(0x1F,0x2)
Filesystem UUID: 3f6a1c2e-8b4d-4e7a-9c1f-2d5b6a7e8f90
Serial console: ttyS0,115200n8"
shot gtk-partitions "Partitions" "Down" -- yad --list --title "Partitions" --width 640 --height 300 \
	--text "$(band '#3465a4' '#ffffff' 'Partition table of /dev/vda')" \
	--column Device --column Size --column Type --column "Mount point" \
	/dev/vda1 512M "EFI System" /boot/efi /dev/vda2 "30.5G" "Linux filesystem" / \
	/dev/vda3 "1.0G" "Linux swap" "[SWAP]" /dev/sda1 "64G" "Microsoft basic data" /mnt/data
shot gtk-boot-order "Boot order" "Down Down" -- zenity --list --radiolist --title "Boot order" --width 560 --height 330 \
	--text "Select the first boot device:" --column Use --column "Boot option" --column Interface \
	TRUE "UEFI PXEv4 (MAC:525400123456)" Network FALSE "UEFI HTTPv6 (MAC:525400123456)" Network \
	FALSE "UEFI QEMU HARDDISK QM00001" SATA FALSE "UEFI Shell" Internal
gtkfont "DejaVu Serif 12"
shot gtk-band-grey "Firmware settings" "" -- yad --title "Firmware settings" --width 620 --button OK:0 --button Cancel:1 \
	--text "$(band '#babdb6' '#000000' 'Secure Boot Configuration')

Secure Boot is enabled when a Platform Key is enrolled.
Current state: <b>Disabled</b>

$(band '#4e9a06' '#ffffff' 'TPM 2.0 Device')

Measured boot writes PCR 0-7 before the loader starts."
gtkfont "DejaVu Sans 16"
shot gtk-large-font "Installer" "" -- zenity --question --title "Installer" --width 700 \
	--text "<b>Write the changes to disks?</b>

The partition tables of the following devices are changed:
SCSI1 (0,0,0) (sda) and Virtual disk 1 (vda)
The following partitions are going to be formatted:
partition #1 of /dev/vda as ESP"
gtkfont "DejaVu Sans Condensed 9"
shot gtk-small-font "Network configuration" "" -- yad --form --title "Network configuration" --width 460 \
	--text "$(band '#cc0000' '#ffffff' 'Manual network setup')" \
	--field "Hostname" --field "Domain name" --field "IPv4 address" --field "Gateway" --field "Name servers" \
	"deskvm-corpus" "example.org" "10.0.2.15/24" "10.0.2.2" "10.0.2.3"
gtkfont "DejaVu Sans 11"
shot gtk-dark "Download" "" -- env GTK_THEME=Adwaita:dark zenity --progress --title "Download" --width 600 --percentage 42 \
	--text "Installing the base system

Retrieving linux-image-6.1.0-13-amd64 (6.1.55-1) over HTTP
from deb.debian.org, 42% of 68.2 MB"
gtkfont "DejaVu Sans 10"
shot gtk-fstab "fstab" "" -- yad --text-info --title fstab --width 820 --height 300 --fontname "DejaVu Sans Mono 10" \
	--filename "$here/fstab.txt"
shot gtk-warning "Warning" "" -- zenity --warning --title "Warning" --width 540 \
	--text "<span foreground='#cc0000' weight='bold'>No EFI System Partition was found.</span>

This machine started in UEFI mode, but the disk has no ESP.
Create a FAT32 partition of at least 100 MB on <tt>/dev/nvme0n1</tt>
or the system will not boot. (Error code 0x8000000E)"
shot gtk-checklist "Software selection" "Down Down Down" -- zenity --list --checklist --title "Software selection" --width 520 --height 360 \
	--text "$(band '#729fcf' '#000000' 'Choose software to install')" --column Pick --column Task \
	TRUE "Debian desktop environment" FALSE "GNOME" FALSE "Xfce" FALSE "web server" TRUE "SSH server" TRUE "standard system utilities"
gtkfont "DejaVu Serif 11"
shot gtk-entry "Set up users" "" -- zenity --entry --title "Set up users" --width 560 \
	--text "Root password for the SATA/NVMe install (min. 8 characters).
Leave empty to disable the root account and use sudo." --entry-text "correct-horse-42"

### xterm screens, 1280×800
startx 1280 800
term() { # term NAME TITLE XTERM-ARGS... -- SCRIPT
	local name=$1 title=$2
	shift 2
	local args=()
	while [ "$1" != "--" ]; do args+=("$1"); shift; done
	shift
	printf '%s\nsleep 600\n' "$1" >"$work/$name.sh"
	shot "$name" "$title" "" -- xterm -T "$title" -geometry +0+0 "${args[@]}" -e bash --norc "$work/$name.sh"
}
demo=$work/demo
mkdir -p "$demo/boot/grub" "$demo/etc"
: >"$demo/boot/vmlinuz-6.1.0-13-amd64" >"$demo/boot/initrd.img-6.1.0-13-amd64" >"$demo/boot/grub/grub.cfg"
printf '#!/bin/sh\n' >"$demo/install.sh"; chmod +x "$demo/install.sh"
ln -s boot/vmlinuz-6.1.0-13-amd64 "$demo/vmlinuz"
: >"$demo/README.md" >"$demo/disk.qcow2"
PS='export PS1="root@corpus:~# "; cd '"$demo"
term term-uname xterm-uname -geometry 110x34+0+0 -- "$PS
echo '# uname -a'; uname -a
echo '# lsblk'; lsblk -o NAME,MAJ:MIN,SIZE,RO,TYPE,MOUNTPOINTS 2>/dev/null | head -20"
term term-df xterm-df -fa "DejaVu Sans Mono" -fs 11 -geometry 100x30+0+0 -- "$PS
echo '# df -h'; df -h -x overlay 2>/dev/null | head -14
echo '# free -h'; free -h"
term term-ip xterm-ip -bg black -fg grey80 -fa "DejaVu Sans Mono" -fs 10 -geometry 120x30+0+0 -- "$PS
unshare -n bash -c 'ip link add eth0 type veth peer name veth9; ip link set eth0 address 52:54:00:12:34:56; ip link set veth9 up; ip addr add 10.0.2.15/24 dev eth0; ip -6 addr add fe80::5054:ff:fe12:3456/64 dev eth0; ip link set eth0 up; echo \"# ip addr\"; ip -c addr'"
term term-ls xterm-ls -bg black -fg white -fa "DejaVu Sans Mono" -fs 12 -geometry 90x24+0+0 -- "$PS
echo '# ls -l --color'; ls -l --color=always --time-style=+%Y-%m-%d . boot boot/grub"
term term-systemd xterm-systemd -bg black -fg grey85 -fa "DejaVu Sans Mono" -fs 11 -geometry 110x30+0+0 -- "$PS
ok() { printf '[  \033[0;32mOK\033[0m  ] %b\n' \"\$1\"; }
ok 'Started \033[0;1;39mJournal Service\033[0m.'
ok 'Finished \033[0;1;39mCreate Static Device Nodes in /dev\033[0m.'
ok 'Reached target \033[0;1;39mLocal File Systems\033[0m.'
printf '[\033[0;1;31mFAILED\033[0m] Failed to start \033[0;1;39mLoad Kernel Module drm\033[0m.\n'
ok 'Mounted \033[0;1;39m/boot/efi\033[0m.'
ok 'Started \033[0;1;39mOpenBSD Secure Shell server\033[0m.'
printf '         Starting \033[0;1;39mNetwork Time Synchronization\033[0m...\n'
ok 'Reached target \033[0;1;39mMulti-User System\033[0m.'"
term term-large xterm-large -bg '#300a24' -fg white -fa "Terminus" -fs 22 -geometry 60x16+0+0 -- "$PS
echo '# cat /proc/cmdline'
echo 'BOOT_IMAGE=/vmlinuz-6.1.0-13-amd64 root=UUID=9b1c4e2a-77d0-4f0e-a3c5-0e5d2f1b8a64 ro console=ttyS0,115200n8 quiet'
echo '# hostname -I'; echo '10.0.2.15 fe80::5054:ff:fe12:3456'"
term term-table xterm-table -bg white -fg black -fa "DejaVu Sans Mono" -fs 10 -geometry 120x28+0+0 -- "$PS
echo '# virsh list --all'
printf '\033[1;36m %-4s %-24s %-10s\033[0m\n' Id Name State
echo '----------------------------------------'
printf ' %-4s %-24s %-10s\n' 1 deskvm-corpus-win11 running 2 deskvm-corpus-debian running - deskvm-corpus-macos 'shut off'
echo '# lsblk -f'
printf '\033[1;36m%-8s %-6s %-38s %-10s\033[0m\n' NAME FSTYPE UUID MOUNTPOINT
printf '%-8s %-6s %-38s %-10s\n' vda '' '' '' vda1 vfat 7A2C-19F0 /boot/efi vda2 ext4 3f6a1c2e-8b4d-4e7a-9c1f-2d5b6a7e8f90 / vda3 swap 0c8e5d1f-2b3a-4c6d-9e8f-1a2b3c4d5e6f '[SWAP]'"
term term-fixed xterm-fixed -fn 9x15 -bg '#002b36' -fg '#93a1a1' -geometry 100x30+0+0 -- "$PS
echo '# cat /etc/os-release'
printf 'PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n'
echo '# efibootmgr -v'
printf 'BootCurrent: 0001\nBootOrder: 0001,0000,0002\nBoot0000* UiApp\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)\nBoot0001* debian\tHD(1,GPT,5d1e2f3a-0b4c-4d6e-8f9a-1b2c3d4e5f60,0x800,0x100000)/File(\\\\EFI\\\\debian\\\\shimx64.efi)\nBoot0002* UEFI PXEv4 (MAC:525400123456)\tPciRoot(0x0)/Pci(0x2,0x0)/MAC(525400123456,1)/IPv4(0.0.0.0)\n'"
