#!/usr/bin/env bash
# `make demo`: validate and render the examples, then bring the demo VM up
# under TCG, wait for its screen and save a screenshot.
# `make demo-clean` (hack/demo.sh clean) tears it down again.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./bin/deskvm
OUT=out/demo
mkdir -p "$OUT"

if [ "${1:-}" = clean ]; then
  # Disabling the VM in a copy of the config makes apply undefine it.
  sed 's/^\(    enable:\) true/\1 false/' examples/demo.yaml > "$OUT/demo-disabled.yaml"
  $BIN apply -f "$OUT/demo-disabled.yaml" --restart --delete-disks
  echo "demo VM removed"
  exit 0
fi

echo "== validate examples"
for f in examples/desktop.yaml examples/demo.yaml; do
  $BIN config validate -f "$f"
done

echo "== render examples (domain XML in $OUT/)"
for vm in my-windows-vm my-vm; do
  $BIN render "$vm" -f examples/desktop.yaml > "$OUT/$vm.xml"
  echo "   $OUT/$vm.xml ($(wc -l < "$OUT/$vm.xml") lines)"
done
$BIN render demo -f examples/demo.yaml > "$OUT/demo.xml"
echo "   $OUT/demo.xml"

if ! $BIN apply --help >/dev/null 2>&1; then
  echo "deskvm apply is not built yet; stopping after render."
  exit 0
fi

echo "== plan + apply examples/demo.yaml"
$BIN plan -f examples/demo.yaml
$BIN apply -f examples/demo.yaml
virsh -c qemu:///system start demo >/dev/null 2>&1 || true   # no-op when autoStart already started it

echo "== waiting for the Debian installer's screen (TCG emulation: about a minute)"
shot="$OUT/demo-screen.png"
for i in $(seq 1 36); do
  sleep 5
  virsh -c qemu:///system screenshot demo "$shot.ppm" >/dev/null 2>&1 || continue
  if [ -x "$BIN" ] && $BIN ocr "$shot.ppm" --find "Select a language" >/dev/null 2>&1; then
    break
  fi
done
if command -v convert >/dev/null 2>&1; then convert "$shot.ppm" "$shot" && rm -f "$shot.ppm"; else mv "$shot.ppm" "$OUT/demo-screen.ppm"; shot="$OUT/demo-screen.ppm"; fi
cat <<EOM

The demo VM "demo" is running. Its screen right now: $shot
Look at it live:   virt-viewer -c qemu:///system demo   (or any VNC viewer: $(virsh -c qemu:///system domdisplay demo 2>/dev/null))
Its state:         ./bin/deskvm list -f examples/demo.yaml
Tear it down:      make demo-clean
EOM
