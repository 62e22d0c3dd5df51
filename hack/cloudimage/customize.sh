#!/usr/bin/env bash
# mmdebstrap customize hook of build.sh: turns the installed tree into a
# generic cloud image. Arguments: ROOTFS ROOT-FS-UUID ESP-VOLUME-ID.
set -euo pipefail
root=$1 rootuuid=$2 espuuid=$3
die() { echo "cloudimage customize: error: $*" >&2; exit 1; }

cat > "$root/etc/fstab" <<FSTAB
UUID=$rootuuid / ext4 rw,discard,errors=remount-ro 0 1
UUID=$espuuid /boot/efi vfat umask=0077 0 2
FSTAB
mkdir -p "$root/boot/efi"

# The kernel and initramfs through Debian's /vmlinuz and /initrd.img links,
# which kernel upgrades move along. no_timer_check: on a slow or busy host
# (QEMU without KVM) the kernel's IO-APIC timer check can fail and panic
# ("IO-APIC + timer doesn't work!"); cloud images for VMs skip it.
for l in vmlinuz initrd.img; do
  [ -e "$root/$l" ] || die "/$l missing in the image"
done
mkdir -p "$root/boot/grub"
cat > "$root/boot/grub/grub.cfg" <<CFG
# Written by deskvm's hack/cloudimage/build.sh; GRUB (EFI/BOOT/BOOTX64.EFI)
# finds this file on the filesystem with UUID $rootuuid.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
menuentry 'Debian GNU/Linux' {
  search --no-floppy --fs-uuid --set=root $rootuuid
  linux /vmlinuz root=UUID=$rootuuid ro console=tty0 console=ttyS0,115200 no_timer_check
  initrd /initrd.img
}
CFG

# cloud-init renders network config through netplan for systemd-networkd:
# without an enabled renderer the first boot has no network.
cat > "$root/etc/cloud/cloud.cfg.d/01_network_renderer.cfg" <<CFG
system_info:
  network:
    renderers: [netplan]
CFG
chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1

# The system locale is C.UTF-8, which needs no generating: cloud-init's
# locale module then has nothing to do (it fails without update-locale,
# from the locales package, which is here for a user who asks for another).
echo 'LANG=C.UTF-8' > "$root/etc/default/locale"

# Generic: no host keys (cloud-init makes them on first boot), no machine-id,
# no host name of the build machine.
rm -f "$root"/etc/ssh/ssh_host_*
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
echo localhost > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
rm -f "$root/etc/resolv.conf"
rm -rf "$root"/var/lib/cloud/* "$root"/var/log/*.log
