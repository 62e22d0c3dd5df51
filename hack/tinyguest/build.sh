#!/usr/bin/env bash
# Builds the tiny real guest that integration tests boot: Debian's kernel
# plus a small initramfs (busybox, dropbear, qemu-guest-agent, virtio
# modules, serial getty, ACPI power button handling), all from Debian
# packages fetched with apt-get download — nothing else from the network.
#
#   hack/tinyguest/build.sh [OUTDIR]     (default: .cache/tinyguest)
#
# OUTDIR receives:
#   vmlinuz, initrd.gz        boot with -kernel/-initrd, append console=ttyS0
#   kernel-version            uname -r inside the guest
#   id_ed25519{,.pub}         client key pair (OpenSSH format) for root,
#                             generated per build, never committed
#   root-password             root's password (SSH and serial login)
#   ssh_host_ed25519_key.pub  the guest's SSH host key, to pin it
#   key                       hash of everything the build depends on
#
# Kernel command line options understood by the guest:
#   tinyguest.noacpi=1        ignore the ACPI power button (force-stop tests)
#
# The build is cached: the key hashes this script, the guest files in
# rootfs/ and the exact package versions apt would download. A run whose
# key matches OUTDIR/key only prints OUTDIR. Concurrent runs (parallel
# test packages) serialise on a lock in OUTDIR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/.cache/tinyguest}
mkdir -p "$out"
out=$(cd "$out" && pwd)

root_password=deskvm
# Binaries and the libraries they need; build fails when a library resolves
# to anything outside these packages.
pkgs=(busybox-static dropbear-bin qemu-guest-agent
  libc6 libcrypt1 zlib1g libtomcrypt1 libtommath1 libgmp10
  libglib2.0-0 libpcre2-8-0 libudev1 libnuma1 liburing2)
modules=(virtio_pci virtio_net virtio_blk virtio_balloon virtio_console
  virtio-rng button evdev)

log() { echo "tinyguest: $*" >&2; }
die() { log "error: $*"; exit 1; }

exec 9>"$out/.lock"
flock 9

# One apt query pins everything: the kernel meta package names the
# versioned image package (with the same version), and each package's
# version and checksum go into the cache key.
aptinfo() { apt-cache show --no-all-versions linux-image-amd64 "${pkgs[@]}" 2>/dev/null | grep -E '^(Package|Version|Depends|SHA256):'; }
info=$(aptinfo) || true
if ! grep -q '^Package: linux-image-amd64' <<<"$info" || [ "$(grep -c '^Package:' <<<"$info")" != $(( ${#pkgs[@]} + 1 )) ]; then
  log "apt package lists incomplete; running apt-get update"
  apt-get update -qq || die "apt-get update failed (need root and Debian apt)"
  info=$(aptinfo) || die "apt-cache show failed for: linux-image-amd64 ${pkgs[*]}"
fi
kpkg=$(awk '/^Package: linux-image-amd64$/ {m=1; next} /^Package:/ {m=0} m && /^Depends:/ {print $2; exit}' <<<"$info")
[ -n "$kpkg" ] || die "cannot find the kernel image package linux-image-amd64 depends on"
key=$( {
  cat "$0"
  # Contents and the executable bit only: other mode bits follow the umask
  # of the checkout and are normalised in the guest anyway.
  (cd "$here/rootfs" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum && find . -type f -executable | LC_ALL=C sort)
  echo "$info"
} | sha256sum | cut -c1-32)

outputs=(vmlinuz initrd.gz kernel-version root-password id_ed25519 id_ed25519.pub ssh_host_ed25519_key.pub)
cached() {
  [ -f "$out/key" ] && [ "$(cat "$out/key")" = "$key" ] || return 1
  for f in "${outputs[@]}"; do [ -s "$out/$f" ] || return 1; done
}
if cached; then
  echo "$out"
  exit 0
fi

start=$(date +%s)
# --print-uris lists the exact file names without downloading.
uris=$(apt-get download --print-uris "$kpkg" "${pkgs[@]}") || die "apt-get download --print-uris failed"
log "building in $out (key $key)"
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Downloaded packages are kept in OUTDIR/debs so that a change to the guest
# files alone does not fetch again; stale versions are removed.
mkdir -p "$out/debs"
want=$(echo "$uris" | awk '{print $2}')
for f in "$out"/debs/*.deb; do
  [ -e "$f" ] || continue
  grep -qxF "$(basename "$f")" <<<"$want" || rm -f "$f"
done
need=()
while read -r name; do
  [ -f "$out/debs/$name" ] || need+=("${name%%_*}")
done <<<"$want"
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get download ${need[*]}"
  # _apt cannot write into a root-owned private dir; download as root.
  (cd "$out/debs" && apt-get download -o APT::Sandbox::User=root "${need[@]}" >/dev/null) || die "apt-get download failed"
fi
# apt names files with the epoch escaped (%3a); --print-uris does the same.
for name in $want; do [ -f "$out/debs/$name" ] || die "missing download $name"; done

ex=$work/extract
rt=$work/root
mkdir -p "$ex" "$rt"
for name in $want; do
  case $name in linux-image-*) continue ;; esac
  dpkg-deb -x "$out/debs/$name" "$ex"
done
kdir=$work/kernel
mkdir -p "$kdir"
dpkg-deb -x "$out/debs/$(grep '^linux-image-' <<<"$want")" "$kdir"
kver=$(ls "$kdir/lib/modules")
[ "$(wc -w <<<"$kver")" = 1 ] || die "expected one kernel version, got: $kver"
cp "$kdir/boot/vmlinuz-$kver" "$work/vmlinuz"

# Runs a binary from the extracted packages with their own loader and
# libraries, so the host's libraries never leak into the guest.
libpath=$ex/lib/x86_64-linux-gnu:$ex/usr/lib/x86_64-linux-gnu
xrun() { "$ex/lib64/ld-linux-x86-64.so.2" --library-path "$libpath" "$@"; }

# --- file tree -------------------------------------------------------
cp -a "$here/rootfs/." "$rt/"
chmod -R u+rwX,go-w,go+rX "$rt"
mkdir -p "$rt"/{bin,dev,proc,sys,run,tmp,root/.ssh,etc/dropbear,usr/bin,usr/sbin,lib64,var}
ln -s bin "$rt/sbin"
ln -s /run "$rt/var/run"
install -m 0755 "$ex/bin/busybox" "$rt/bin/busybox"
for a in $("$ex/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$rt/bin/$a"
done
install -m 0755 "$ex/usr/sbin/dropbear" "$ex/usr/sbin/qemu-ga" "$rt/usr/sbin/"

# Shared libraries: resolve with the extracted loader and copy each one
# into the same path inside the guest.
install -m 0755 "$ex/lib64/ld-linux-x86-64.so.2" "$rt/lib64/"
for bin in "$ex/usr/sbin/dropbear" "$ex/usr/sbin/qemu-ga"; do
  while read -r lib arrow path _; do
    case $lib in linux-vdso.so.*|/lib64/ld-linux-x86-64.so.2) continue ;; esac
    [ "$arrow" = "=>" ] || die "unexpected loader output for $bin: $lib $arrow $path"
    case $path in
      "$ex"/*) ;;
      *) die "$bin needs $lib, found only at '$path' (outside the downloaded packages; add its package to pkgs)" ;;
    esac
    real=$(readlink -f "$path")
    rel=${path#"$ex"}
    mkdir -p "$rt$(dirname "$rel")"
    cp "$real" "$rt$rel"
  done < <(xrun --list "$bin")
done

# Kernel modules: copy the requested ones and their dependencies, then let
# busybox depmod index them for modprobe in the guest.
kmods=$kdir/lib/modules/$kver
mdir=$rt/lib/modules/$kver
declare -A seen=()
addmod() {
  local name=$1 f dep
  f=$(find "$kmods/kernel" \( -name "$name.ko" -o -name "${name//_/-}.ko" -o -name "${name//-/_}.ko" \) -print -quit)
  [ -n "$f" ] || die "kernel module $name not in $kpkg"
  [ -z "${seen[$f]:-}" ] || return 0
  seen[$f]=1
  mkdir -p "$mdir/$(dirname "${f#"$kmods/"}")"
  cp "$f" "$mdir/${f#"$kmods/"}"
  for dep in $(grep -ao 'depends=[A-Za-z0-9_,-]*' "$f" | head -1 | cut -d= -f2 | tr , ' '); do
    addmod "$dep"
  done
}
for m in "${modules[@]}"; do addmod "$m"; done
cp "$kmods/modules.builtin" "$kmods/modules.order" "$mdir/" 2>/dev/null || true
"$ex/bin/busybox" depmod -b "$rt" "$kver"

# --- credentials (per build) ----------------------------------------
xrun "$ex/usr/bin/dropbearkey" -t ed25519 -f "$rt/etc/dropbear/dropbear_ed25519_host_key" >/dev/null 2>&1
xrun "$ex/usr/bin/dropbearkey" -y -f "$rt/etc/dropbear/dropbear_ed25519_host_key" | grep '^ssh-ed25519 ' | awk '{print $1, $2}' > "$work/ssh_host_ed25519_key.pub"
xrun "$ex/usr/bin/dropbearkey" -t ed25519 -f "$work/client.dropbear" >/dev/null 2>&1
xrun "$ex/usr/bin/dropbearkey" -y -f "$work/client.dropbear" | grep '^ssh-ed25519 ' | awk '{print $1, $2, "deskvm-tinyguest-test"}' > "$work/id_ed25519.pub"
xrun "$ex/usr/bin/dropbearconvert" dropbear openssh "$work/client.dropbear" "$work/id_ed25519" >/dev/null 2>&1
[ -s "$work/id_ed25519" ] && [ -s "$work/id_ed25519.pub" ] || die "key generation failed"
install -m 0600 "$work/id_ed25519.pub" "$rt/root/.ssh/authorized_keys"
chmod 0700 "$rt/root" "$rt/root/.ssh"
hash=$("$ex/bin/busybox" mkpasswd -m sha512 "$root_password")
printf 'root:%s:19000:0:99999:7:::\n' "$hash" > "$rt/etc/shadow"
chmod 0600 "$rt/etc/shadow"
chmod 0700 "$rt/etc/dropbear"

# --- archive ---------------------------------------------------------
(cd "$rt" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 -n > "$work/initrd.gz"

echo "$kver" > "$work/kernel-version"
echo "$root_password" > "$work/root-password"
chmod 0600 "$work/id_ed25519"
for f in "${outputs[@]}"; do
  mv -f "$work/$f" "$out/$f"
done
echo "$key" > "$out/key"
log "built kernel $kver, initrd $(du -h "$out/initrd.gz" | cut -f1) in $(( $(date +%s) - start ))s"
echo "$out"
