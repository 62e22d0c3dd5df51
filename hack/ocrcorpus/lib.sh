# Shared helpers of the corpus scripts (sourced, not run).
# OUT: directory the PNGs go to; TOPNG: the converter binary.
set -euo pipefail

: "${OUT:?OUT must be set}"
: "${TOPNG:?TOPNG must be set}"

log() { printf 'ocrcorpus: %s\n' "$*" >&2; }

# freeport prints a TCP port nobody listens on.
freeport() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# --- QEMU, driven through its human monitor on a local TCP port ---
# vm_start ARGS...: start qemu-system-x86_64 (TCG, no display) with ARGS.
vm_start() {
	VM_PORT=$(freeport)
	qemu-system-x86_64 -machine q35,accel=tcg -m 512 -display none \
		-monitor "tcp:127.0.0.1:$VM_PORT,server=on,wait=off" "$@" >"$VM_DIR/qemu.log" 2>&1 &
	VM_PID=$!
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$VM_PORT") 2>/dev/null; then
			exec 3<>"/dev/tcp/127.0.0.1/$VM_PORT"
			cat <&3 >/dev/null &
			VM_DRAIN=$!
			return 0
		fi
		sleep 0.1
	done
	log "qemu did not start"; cat "$VM_DIR/qemu.log" >&2; return 1
}
vm_stop() {
	[ -n "${VM_PID:-}" ] || return 0
	printf 'quit\n' >&3 2>/dev/null || true
	{ exec 3>&-; } 2>/dev/null || true
	wait "$VM_PID" 2>/dev/null || true
	kill "${VM_DRAIN:-}" 2>/dev/null || true
	VM_PID=""
}
mon() { printf '%s\n' "$*" >&3; }
# key K...: press keys one after another (QEMU key names: ret, esc, down, e, ctrl-x).
key() {
	local k
	for k in "$@"; do
		mon "sendkey $k"
		sleep 0.3
	done
}
# typestr STRING: type a line of printable ASCII.
typestr() {
	local s=$1 i c k
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case "$c" in
		[a-z0-9]) k=$c ;;
		[A-Z]) k="shift-${c,,}" ;;
		' ') k=spc ;; '-') k=minus ;; '_') k=shift-minus ;; '.') k=dot ;; '/') k=slash ;;
		':') k=shift-semicolon ;; ',') k=comma ;; '=') k=equal ;; '\') k=backslash ;;
		'(') k=shift-9 ;; ')') k=shift-0 ;; '*') k=shift-8 ;; '"') k=shift-apostrophe ;;
		'<') k=shift-comma ;; '>') k=shift-dot ;; '|') k=shift-backslash ;;
		*) log "typestr: cannot type '$c'"; return 1 ;;
		esac
		mon "sendkey $k"
		sleep 0.15
	done
}
# dump NAME: save the screen as OUT/NAME.png.
dump() {
	rm -f "$VM_DIR/screen.ppm"
	mon "screendump $VM_DIR/screen.ppm"
	for _ in $(seq 50); do
		[ -s "$VM_DIR/screen.ppm" ] && break
		sleep 0.1
	done
	sleep 0.3
	"$TOPNG" "$VM_DIR/screen.ppm" "$OUT/$1.png"
	log "$1"
}

# --- UEFI: an ESP disk image and OVMF ---
# esp IMG FILE=DEST...: a 64 MiB GPT disk with one FAT ESP holding FILEs.
esp() {
	local img=$1 kv src dst
	shift
	rm -f "$img"
	truncate -s 64M "$img"
	sgdisk -o -n 1:2048:0 -t 1:ef00 -c 1:"EFI System" "$img" >/dev/null
	mformat -i "$img@@1M" -F -v ESP ::
	for kv in "$@"; do
		src=${kv%%=*} dst=${kv#*=}
		mkdir_p "$img" "$(dirname "$dst")"
		mcopy -i "$img@@1M" "$src" "::$dst"
	done
}
mkdir_p() { # mkdir_p IMG DIR: mmd with parents
	local img=$1 p="" part
	IFS=/ read -ra parts <<<"${2#/}"
	for part in "${parts[@]}"; do
		p="$p/$part"
		mmd -i "$img@@1M" "::$p" 2>/dev/null || true
	done
}
# ovmf_drives: fresh OVMF variables in $VM_DIR; sets OVMF, the QEMU
# arguments of the firmware's two flash drives.
ovmf_drives() {
	cp /usr/share/OVMF/OVMF_VARS_4M.fd "$VM_DIR/vars.fd"
	OVMF=(-drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
		-drive "if=pflash,format=raw,file=$VM_DIR/vars.fd")
}
ovmf() { # ovmf ARGS...: start OVMF with fresh variables
	ovmf_drives
	vm_start "${OVMF[@]}" "$@"
}
