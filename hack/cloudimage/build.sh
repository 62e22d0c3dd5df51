#!/usr/bin/env bash
# Builds a real, bootable Debian 12 cloud image for the tests of VM Images:
# the same kind of disk a user downloads as debian-12-genericcloud-amd64.
#
#   hack/cloudimage/build.sh [OUTDIR]   (default: /var/cache/deskvm-test/cloudimage,
#                                        or $DESKVM_CLOUDIMAGE_DIR)
#
# Prints the path of the qcow2 on stdout. The image:
#   - Debian 12 (bookworm) from the host's apt sources, made with mmdebstrap:
#     linux-image-cloud-amd64, cloud-init 22.4, openssh-server, sudo,
#     netplan.io + systemd-networkd (cloud-init renders network-config v2
#     through netplan), cloud-guest-utils (growpart for a bigger disk);
#   - GPT: partition 1 root (ext4), 14 BIOS boot with GRUB's core.img (and
#     boot.img in the MBR), 15 ESP (FAT) with GRUB as EFI/BOOT/BOOTX64.EFI.
#     Firmware: UEFI (OVMF) or BIOS (SeaBIOS). GRUB finds the root by its
#     filesystem UUID and reads /boot/grub/grub.cfg from it;
#   - kernel console on tty0 and ttyS0 (serial log);
#   - no SSH host keys, an empty machine-id, no root password, no users:
#     cloud-init does everything on first boot from a NoCloud seed (virtio
#     disk labelled "cidata"; the cloud kernel has no AHCI), and
#     `cloud-init clean` makes it run again;
#   - 2 GiB virtual size, about 200 MB as compressed qcow2.
#
# Nothing is mounted and no loop device is used: the filesystems are built
# from directories (mkfs.ext4 -d, mtools) and copied into the raw disk at
# the partition offsets.
#
# Cached: the file name carries a hash of this script, so a changed script
# builds again; an existing image with the current hash is only printed.
# Images of other script versions are removed after two days unused.
# Downloaded packages stay in OUTDIR/debs for the next build. Concurrent
# runs serialise on OUTDIR/.lock.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${DESKVM_CLOUDIMAGE_DIR:-/var/cache/deskvm-test/cloudimage}}
mkdir -p "$out"
out=$(cd "$out" && pwd)

log() { echo "cloudimage: $*" >&2; }
die() { log "error: $*"; exit 1; }

for c in mmdebstrap mkfs.ext4 mkfs.vfat mmd mcopy sgdisk grub-mkimage qemu-img flock; do
  command -v "$c" >/dev/null || die "$c is missing (hack/install-deps.sh installs it)"
done
[ -d /usr/lib/grub/x86_64-efi ] || die "/usr/lib/grub/x86_64-efi is missing (package grub-efi-amd64-bin)"
[ -f /usr/lib/grub/i386-pc/boot.img ] || die "/usr/lib/grub/i386-pc is missing (package grub-pc-bin)"
[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap chroot, file ownership in the image)"

key=$( (cat "$0" "$here/customize.sh") | sha256sum | cut -c1-16)
image=$out/debian-12-cloud-$key.qcow2

exec 9>"$out/.lock"
flock 9
if [ -s "$image" ]; then
  touch -a "$image"
  echo "$image"
  exit 0
fi

start=$(date +%s)
log "building $image"
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
mkdir -p "$out/debs"

# The host's apt sources (the Debian mirror reachable from here, with
# bookworm-security), in one-line format for the image.
sources=$work/sources.list
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  case $f in
    *.sources)
      awk '
        function flush() { if (types ~ /deb/ && uris != "" && suites != "") { n = split(suites, s, " "); for (i = 1; i <= n; i++) print "deb " uris " " s[i] " " comps } types = uris = suites = comps = "" }
        /^[ \t]*$/ { flush(); next }
        /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
        /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
        /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
        /^Components:/ { sub(/^Components:[ \t]*/, ""); comps = $0 }
        END { flush() }' "$f" ;;
    *) grep -E '^deb ' "$f" || true ;;
  esac
done | grep -E '/debian(-security)?/? bookworm' | grep -v 'bookworm-backports' | sed 's/\[[^]]*\] //' | sort -u > "$sources"
[ -s "$sources" ] || die "no Debian bookworm mirror in /etc/apt/sources.list*"

rootuuid=$(cat /proc/sys/kernel/random/uuid)
espid=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ' | tr a-f A-F)
espuuid=${espid:0:4}-${espid:4:4}

# No documentation, manual pages or translations: the image stays small.
excludes=(
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --dpkgopt='path-exclude=/usr/share/linda/*'
)
packages=linux-image-cloud-amd64,locales,systemd-sysv,udev,dbus,cloud-init,cloud-guest-utils,gdisk,openssh-server,sudo,netplan.io,iproute2,less,ca-certificates

log "mmdebstrap ($packages)"
mmdebstrap --variant=apt --mode=root --format=directory \
  --include="$packages" \
  "${excludes[@]}" \
  --aptopt='Acquire::Retries "3"' \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="find '$out/debs' -maxdepth 1 -name '*.deb' -exec cp -t \"\$1\"/var/cache/apt/archives/ {} +" \
  --customize-hook="find \"\$1\"/var/cache/apt/archives -maxdepth 1 -name '*.deb' -exec cp -nt '$out/debs' {} +" \
  --customize-hook="$here/customize.sh \"\$1\" $rootuuid $espuuid" \
  bookworm "$rootfs" "$sources" >&2 || die "mmdebstrap failed"

# Partitions (512-byte sectors), like Debian's cloud images: 14 BIOS boot,
# 15 ESP, 1 root up to 1 MiB before the end of a 2 GiB disk.
disk_sectors=$((2 * 1024 * 1024 * 2))
bios_start=2048 bios_end=4095
esp_start=4096 esp_sectors=$((127 * 2048))
esp_end=$((esp_start + esp_sectors - 1))
root_start=$((esp_end + 1))
root_end=$((disk_sectors - 2048 - 1))
root_sectors=$((root_end - root_start + 1))

log "ESP (GRUB for x86_64-efi)"
cat > "$work/embedded.cfg" <<CFG
search --no-floppy --fs-uuid --set=root $rootuuid
set prefix=(\$root)/boot/grub
configfile (\$root)/boot/grub/grub.cfg
CFG
grub-mkimage -O x86_64-efi -o "$work/BOOTX64.EFI" -c "$work/embedded.cfg" -p /boot/grub \
  part_gpt part_msdos ext2 fat search search_fs_uuid configfile normal linux gzio echo test \
  all_video efi_gop serial terminal sleep >&2
truncate -s $((esp_sectors * 512)) "$work/esp.img"
mkfs.vfat -F 32 -n EFI -i "$espid" "$work/esp.img" >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

log "BIOS boot (GRUB for i386-pc in the BIOS boot partition)"
# What grub-install does on a disk, done on the file: core.img (with the
# same embedded config) in partition 14, boot.img in the MBR's code area
# pointing at it. Offsets from GRUB 2.06's boot.S and diskboot.S.
grub-mkimage -O i386-pc -o "$work/core.img" -c "$work/embedded.cfg" -p /boot/grub \
  biosdisk part_gpt part_msdos ext2 search search_fs_uuid configfile normal linux gzio echo test \
  serial terminal sleep >&2
core_sectors=$(( ($(stat -c %s "$work/core.img") + 511) / 512 ))
[ "$core_sectors" -le $((bios_end - bios_start + 1)) ] || die "core.img ($core_sectors sectors) does not fit the BIOS boot partition"
le64() { printf "$(printf '\\x%02x' $(( $1 & 255 )) $(( ($1 >> 8) & 255 )) $(( ($1 >> 16) & 255 )) $(( ($1 >> 24) & 255 )) 0 0 0 0)"; }
# diskboot's block list: the rest of core.img starts one sector later.
le64 $((bios_start + 1)) | dd of="$work/core.img" bs=1 seek=$((0x1f4)) conv=notrunc status=none
cp /usr/lib/grub/i386-pc/boot.img "$work/boot.img"
le64 $bios_start | dd of="$work/boot.img" bs=1 seek=$((0x5c)) conv=notrunc status=none   # kernel sector
printf '\xff' | dd of="$work/boot.img" bs=1 seek=$((0x64)) conv=notrunc status=none      # boot drive: the one the BIOS booted
printf '\x90\x90' | dd of="$work/boot.img" bs=1 seek=$((0x66)) conv=notrunc status=none # no floppy drive check (as grub-bios-setup for disks)

log "root filesystem (ext4 from the directory)"
# ext4 features the bookworm kernel and GRUB read; the block count fills the
# partition so growpart/resize2fs only have to follow a bigger disk.
truncate -s $((root_sectors / 8 * 4096)) "$work/root.img"
mkfs.ext4 -q -F -L root -U "$rootuuid" -b 4096 -m 1 -E root_owner=0:0 -d "$rootfs" "$work/root.img"

log "GPT disk"
truncate -s $((disk_sectors * 512)) "$work/disk.raw"
sgdisk -o \
  -n 14:$bios_start:$bios_end -t 14:ef02 -c 14:bios \
  -n 15:$esp_start:$esp_end -t 15:ef00 -c 15:esp \
  -n 1:$root_start:$root_end -t 1:8304 -c 1:root \
  "$work/disk.raw" >/dev/null && sgdisk -v "$work/disk.raw" >/dev/null || die "sgdisk failed"
# The MBR's code area only (440 bytes): the disk signature and sgdisk's
# protective partition entry stay.
dd if="$work/boot.img" of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$work/disk.raw" bs=512 seek=$bios_start conv=notrunc status=none
dd if="$work/esp.img" of="$work/disk.raw" bs=512 seek=$esp_start conv=notrunc,sparse status=none
dd if="$work/root.img" of="$work/disk.raw" bs=512 seek=$root_start conv=notrunc,sparse status=none

log "qcow2 (compressed)"
qemu-img convert -c -f raw -O qcow2 "$work/disk.raw" "$work/image.qcow2"
mv "$work/image.qcow2" "$image"
# Builds of other script versions go once unused for two days: checkouts
# with another version of this script (a branch not rebased yet) share the
# directory and must not delete each other's image on every run.
find "$out" -maxdepth 1 -name 'debian-12-cloud-*.qcow2' ! -name "$(basename "$image")" -atime +2 -delete
touch -a "$image"
log "built $(du -h "$image" | cut -f1) in $(( $(date +%s) - start ))s"
echo "$image"
