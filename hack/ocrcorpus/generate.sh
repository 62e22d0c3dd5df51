#!/bin/bash
# Regenerates the screens of the OCR development corpus
# (internal/ocr/testdata/devcorpus) from real programs: GTK dialogs and
# terminals on Xvfb, firmware and boot loaders under QEMU, the tiny test
# guest's Linux console. Not part of `make test`:
# it takes about ten minutes on a 2-core machine without KVM.
#
#   hack/ocrcorpus/generate.sh [OUTDIR] [SOURCE...]
#
# SOURCE is one of x11 firmware console (default: all). The
# labels (labels.json) are written by a person looking at each screen;
# after regenerating, compare the new screens with the labels (a screen
# showing this machine's own state, such as term-uname or term-df, needs
# new labels on another machine). See docs/ocr.md, "Development corpus".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
OUT=$(realpath -m "${1:-$repo/internal/ocr/testdata/devcorpus}")
shift || true
sources=("$@")
[ ${#sources[@]} -gt 0 ] || sources=(x11 firmware console)
mkdir -p "$OUT"
TOPNG=$(mktemp /tmp/ocrcorpus-topng.XXXXXX)
trap 'rm -f "$TOPNG"' EXIT
(cd "$repo" && CGO_ENABLED=0 go build -o "$TOPNG" ./hack/ocrcorpus/topng)
export OUT TOPNG
for s in "${sources[@]}"; do
	case $s in
	x11 | firmware | console) "$here/$s.sh" ;;
	*) echo "generate.sh: unknown source $s (x11, firmware, console)" >&2; exit 2 ;;
	esac
done
