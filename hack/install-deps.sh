#!/usr/bin/env bash
# Installs the real parts deskvm's tests and demo use (Debian packages) when
# missing, and starts virtlogd/libvirtd when they are not running.
# Idempotent: a second run does nothing but check.
set -euo pipefail

PKGS=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients ovmf
  swtpm swtpm-tools tesseract-ocr tesseract-ocr-eng
  debian-installer-12-netboot-amd64 openssh-client libxml2-utils nftables
  busybox-static cpio chromium virt-viewer xvfb
  # VM Images: the test cloud image (mmdebstrap, a GPT disk with an ESP),
  # Windows-layout fixtures (wimtools, genisoimage/xorriso), boot stand-ins
  mmdebstrap gdisk dosfstools mtools grub-efi-amd64-bin grub-pc-bin e2fsprogs
  wimtools genisoimage xorriso systemd-boot-efi
  # the seed tests read cloud-init's YAML with PyYAML, as cloud-init does
  python3-yaml
  # NixOS module: evaluated with Nix 2.8 against ../shared/nixpkgs-lib
  nix-bin
  # OCR development corpus: GTK dialogs and terminals on Xvfb
  zenity yad xdotool xterm fonts-terminus kbd)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH=$PATH:/usr/local/go/bin
fi
command -v go >/dev/null || { echo "install-deps: Go is missing (need go >= 1.24 on PATH)"; exit 1; }

# hugetlbfs, which systemd mounts on a usual host (dev-hugepages.mount);
# libvirtd looks for it when it starts, for VMs with hugepages, so a
# libvirtd that runs already is restarted (its VMs keep running).
if ! grep -q ' hugetlbfs ' /proc/mounts; then
  if $SUDO mkdir -p /dev/hugepages && $SUDO mount -t hugetlbfs hugetlbfs /dev/hugepages; then
    if pgrep -x libvirtd >/dev/null; then
      echo "install-deps: hugetlbfs mounted; restarting libvirtd so that it sees it"
      $SUDO pkill -x libvirtd || true
      for _ in $(seq 1 40); do pgrep -x libvirtd >/dev/null || break; sleep 0.25; done
    fi
  else
    echo "install-deps: could not mount hugetlbfs on /dev/hugepages (VMs with hugepages will not start)"
  fi
fi

# /dev/kvm: udev gives it group kvm and mode 0660 on a usual host, so QEMU
# under libvirt (user libvirt-qemu, group kvm) can use it. Without udev a
# /dev/kvm can stay root-only; libvirt's capability probe then reports KVM
# while its check of the cached capabilities finds /dev/kvm unusable, so it
# probes QEMU again on every call (a define then takes a minute or times
# out). Same owner and mode as udev's rule; only a root-only node changes.
if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %U:%G:%a /dev/kvm)" = root:root:600 ]; then
  $SUDO chgrp kvm /dev/kvm && $SUDO chmod 0660 /dev/kvm &&
    echo "install-deps: /dev/kvm is now group kvm, mode 0660 (as udev sets it)"
fi

# libvirt: no systemd on these machines, so start the daemons by hand.
if ! virsh -c qemu:///system version >/dev/null 2>&1; then
  pgrep -x virtlogd >/dev/null || $SUDO virtlogd -d
  pgrep -x libvirtd >/dev/null || $SUDO libvirtd -d
  for _ in $(seq 1 60); do
    virsh -c qemu:///system version >/dev/null 2>&1 && break
    sleep 0.5
  done
  virsh -c qemu:///system version >/dev/null || { echo "install-deps: libvirtd did not come up"; exit 1; }
fi
echo "install-deps: ok ($(virsh -c qemu:///system version --daemon 2>/dev/null | grep -i 'running hypervisor' | sed 's/^ *//'))"
