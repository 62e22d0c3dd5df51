#!/usr/bin/env bash
# `make demo`: validate and render the examples, bring the demo VM up under
# TCG, drive its Debian installer three screens deep with deskvm's
# automation engine (examples/automation/demo.automation.yaml), then save
# the screen with deskvm screenshot and read it back with deskvm ocr.
# Prints the PNG and the automation report (report.html); both must exist.
# `make demo-clean` (hack/demo.sh clean) tears the VM down again.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./bin/deskvm
CFG=examples/demo.yaml
OUT=out/demo
mkdir -p "$OUT"
# apply removes managed VMs that are not in the config it is given; the
# demo's config holds only "demo", so confine it to that name and leave
# every other VM on the machine alone.
export DESKVM_DOMAIN_PREFIX=demo

if [ "${1:-}" = clean ]; then
  # Disabling the VM in a copy of the config makes apply undefine it.
  sed 's/^\(    enable:\) true/\1 false/' "$CFG" > "$OUT/demo-disabled.yaml"
  $BIN apply -f "$OUT/demo-disabled.yaml" --restart --delete-disks
  echo "demo VM removed"
  exit 0
fi
start=$(date +%s)

echo "== validate examples"
for f in examples/desktop.yaml "$CFG"; do
  $BIN config validate -f "$f"
done
$BIN automate examples/automation/demo.automation.yaml --dry-run

echo "== render examples (domain XML in $OUT/)"
for vm in my-windows-vm my-vm; do
  $BIN render "$vm" -f examples/desktop.yaml > "$OUT/$vm.xml"
  echo "   $OUT/$vm.xml ($(wc -l < "$OUT/$vm.xml") lines)"
done
$BIN render demo -f "$CFG" > "$OUT/demo.xml"
echo "   $OUT/demo.xml"

echo "== plan + apply $CFG"
$BIN plan -f "$CFG"
$BIN apply -f "$CFG"
# The script starts at the installer's first screen: a demo VM left
# running by an earlier demo is powered off and started again.
if $BIN vm demo status -f "$CFG" 2>/dev/null | grep -qE '^state:[[:space:]]+(running|paused)'; then
  $BIN vm demo force-stop -f "$CFG"
fi
$BIN vm demo start -f "$CFG"

echo "== automate: the Debian installer, three screens (TCG emulation: two to five minutes on 2 busy cores)"
run="$OUT/run"
rm -rf "$run"
$BIN automate examples/automation/demo.automation.yaml --vm demo -f "$CFG" --debug "$run"

echo "== screenshot + OCR of the screen the script stopped at"
shot="$OUT/demo-screen.png"
$BIN screenshot --vm demo -f "$CFG" -o "$shot"
$BIN ocr "$shot" --find "Configure the keyboard" > "$OUT/demo-screen-ocr.json"
echo "   OCR found \"Configure the keyboard\" ($OUT/demo-screen-ocr.json)"

report="$run/report.html"
for f in "$shot" "$report"; do
  if [ ! -s "$f" ]; then echo "demo: $f was not written" >&2; exit 1; fi
done
cat <<EOM

The demo VM "demo" is running, $(( $(date +%s) - start )) s after the demo started.
Its screen now (PNG):  $shot
Automation report:     $report   (open it in a browser: each step with its screenshot and OCR)
Look at it live:       virt-viewer -c qemu:///system demo
Its state:             $BIN list -f $CFG
Tear it down:          make demo-clean
EOM
