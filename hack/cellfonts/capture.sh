#!/bin/bash
# Captures the glyphs of the fixed-cell fonts that firmware and Linux
# consoles draw, from the real programs under QEMU (TCG), into
# internal/ocr/cellfonts/*.txt, which the OCR engine embeds and matches
# cell by cell (docs/ocr.md, "Cell fonts"). Each section shows a file with
# every character to learn on the screen, dumps the screen, and
# hack/cellfonts/cut cuts it into cells at the console's grid and checks
# that every character came out as a distinct two-colour glyph.
#
#   hack/cellfonts/capture.sh [efi] [vga] [fb] [large] [fixed] [xterm]   (default: all; ~5 min)
#
#   efi    OVMF's text console (8×19): UEFI shell, GRUB and systemd-boot on
#          UEFI, OVMF's setup pages, iPXE on UEFI
#   vga    VGA text mode (9×16 cells of the VGA BIOS font): SeaBIOS, iPXE,
#          boot loaders and Linux on BIOS
#   fb     Linux fbcon's default 8×16 font on a framebuffer
#   large  Linux fbcon's 16×32 Terminus font (fbcon=font:TER16x32)
#   fixed  console-setup's Fixed16 (8×16), the Debian installer's console
#          font, loaded into the tiny guest's console with loadfont
#   xterm  xterm's default font "fixed" (6×13) and 9x15, X core bitmap
#          fonts, on Xvfb
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fonts=$repo/internal/ocr/cellfonts
VM_DIR=$(mktemp -d /tmp/cellfonts.XXXXXX)
OUT=$VM_DIR/shots
TOPNG=$VM_DIR/topng
mkdir -p "$OUT"
export OUT TOPNG
. "$repo/hack/ocrcorpus/lib.sh"
# KEEP=1 keeps the screens and tools in $VM_DIR.
trap 'vm_stop; [ -z "${xvfb:-}" ] || kill "$xvfb" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$VM_DIR"' EXIT
(cd "$repo" && CGO_ENABLED=0 go build -o "$TOPNG" ./hack/ocrcorpus/topng && CGO_ENABLED=0 go build -o "$VM_DIR/cut" ./hack/cellfonts/cut)

SECTIONS="$*"
section() { [ -z "$SECTIONS" ] || [[ " $SECTIONS " == *" $1 "* ]]; }

# The characters, a row each, every row starting at column 0.
ascii=$VM_DIR/ascii.txt
printf '%s\n' '!"#$%&'"'"'()*+,-./0123456789:;<=>?' '@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_' '`abcdefghijklmnopqrstuvwxyz{|}~' >"$ascii"
# OVMF's font also has Latin-1, arrows, box drawing and blocks; its setup
# pages draw arrows (↑↓=Move Highlight), triangles and frames.
efitext=$VM_DIR/efi.txt
{
	cat "$ascii"
	printf '%s\n' '¡¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿' 'ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞß' 'àáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ' \
		'↑↓←→▲►▼◄─│┌┐└┘├┤┬┴┼═║╔╗╚╝╠╣╦╩╬░▒▓█▀▄'
} >"$efitext"

### OVMF's text console, through the UEFI shell's `type` of a UCS-2 file
section efi && {
	{ printf '\xff\xfe'; iconv -f UTF-8 -t UTF-16LE "$efitext"; } >"$VM_DIR/chars.txt"
	esp "$VM_DIR/esp.img" "$VM_DIR/chars.txt=/chars.txt"
	ovmf -drive "file=$VM_DIR/esp.img,format=raw,if=ide" -nic none
	sleep 45
	typestr "cls"; key ret; sleep 1; typestr "type fs0:\\chars.txt"; key ret; sleep 3
	dump efi
	vm_stop
	"$VM_DIR/cut" -png "$OUT/efi.png" -cell 8x19 -text "$efitext" -name efi-8x19 \
		-source "OVMF $(dpkg-query -W -f '${Version}' ovmf), UEFI shell" -out "$fonts/efi-8x19.txt"
}

# The tiny test guest with the characters in /chars.txt (a second
# initramfs archive appended to its own).
if section vga || section fb || section large || section fixed; then
tiny=$("$repo/hack/tinyguest/build.sh" "${TINYGUEST_DIR:-$repo/.cache/tinyguest}" | tail -1)
mkdir -p "$VM_DIR/extra"
cp "$ascii" "$VM_DIR/extra/ascii.txt"
# The Debian installer's font, from console-setup-linux, and the box
# drawing its dialogs use.
fixedtext=$VM_DIR/extra/fixed.txt
{
	cat "$ascii"
	printf '%s\n' '─│┌┐└┘├┤┬┴┼═║╔╗╚╝▒░▓█▀▄←↑→↓' '¡¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿' 'ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞß' 'àáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ'
} >"$fixedtext"
section fixed && (
	cd "$VM_DIR" && apt-get download -q console-setup-linux >/dev/null 2>&1 && dpkg-deb -x console-setup-linux_*.deb csl &&
		zcat csl/usr/share/consolefonts/Uni2-Fixed16.psf.gz >"$VM_DIR/extra/fixed16.psf"
)
(cd "$VM_DIR/extra" && ls | cpio -o -H newc --quiet | gzip) | cat "$tiny/initrd.gz" - >"$VM_DIR/initrd.gz"
linux() { # linux NAME CELL WAIT SOURCE SETUP TEXT APPEND [QEMU ARGS...]
	local name=$1 cell=$2 wait=$3 source=$4 setup=$5 text=$6 append=$7
	shift 7
	vm_start -kernel "$tiny/vmlinuz" -initrd "$VM_DIR/initrd.gz" -append "$append tinyguest.getty=tty1" -nic none "$@"
	sleep "$wait"
	key ret; sleep 2; typestr root; key ret; sleep 2; typestr "$(cat "$tiny/root-password")"; key ret; sleep 3
	[ -z "$setup" ] || { typestr "$setup"; key ret; sleep 2; }
	typestr "clear"; key ret; sleep 2; typestr "cat /$(basename "$text")"; key ret; sleep 3
	dump "$name"
	vm_stop
	"$VM_DIR/cut" -png "$OUT/$name.png" -cell "$cell" -text "$text" -name "$name" \
		-source "Linux $(cat "$tiny/kernel-version"), $source" -out "$fonts/$name.txt"
}
section vga && linux vga-9x16 9x16 40 "VGA text mode, SeaBIOS $(dpkg-query -W -f '${Version}' seabios)" "" "$ascii" "console=tty0"
section fb && linux fb-8x16 8x16 45 "fbcon VGA8x16 on a VESA framebuffer" "" "$ascii" "console=tty0 vga=792" -vga std
section fixed && linux fixed-8x16 8x16 45 "console-setup $(dpkg-deb -f "$VM_DIR"/console-setup-linux_*.deb Version) Uni2-Fixed16 loaded by busybox loadfont" \
	"busybox loadfont < /fixed16.psf" "$fixedtext" "console=tty0 vga=792" -vga std
section large && {
	ovmf_drives
	linux ter-16x32 16x32 90 "fbcon TER16x32 on OVMF's framebuffer" "" "$ascii" "console=tty0 fbcon=font:TER16x32" "${OVMF[@]}"
}
fi

### xterm's bitmap fonts on Xvfb: the grid starts inside xterm's 2-pixel border
section xterm && {
	for d in $(seq 140 199); do
		[ -e "/tmp/.X11-unix/X$d" ] || [ -e "/tmp/.X$d-lock" ] || break
	done
	mkdir -p "$VM_DIR/fb"
	Xvfb ":$d" -screen 0 1024x768x24 -fbdir "$VM_DIR/fb" -nolisten tcp >"$VM_DIR/xvfb.log" 2>&1 &
	xvfb=$!
	sleep 2
	for f in fixed:xterm-6x13:6x13 9x15:xterm-9x15:9x15; do
		IFS=: read -r xfont name cell <<<"$f"
		DISPLAY=":$d" xterm -fn "$xfont" -geometry 80x10+0+0 -bg black -fg white -e sh -c "cat '$ascii'; sleep 30" &
		xt=$!
		sleep 3
		"$TOPNG" "$VM_DIR/fb/Xvfb_screen0" "$OUT/$name.png"
		kill "$xt" 2>/dev/null || true
		wait "$xt" 2>/dev/null || true
		"$VM_DIR/cut" -png "$OUT/$name.png" -cell "$cell" -ox 2 -oy 2 -text "$ascii" -name "$name" \
			-source "xterm $(dpkg-query -W -f '${Version}' xterm) -fn $xfont on Xvfb" -out "$fonts/$name.txt"
	done
	kill "$xvfb"
	xvfb=""
}
log "fonts in $fonts"
