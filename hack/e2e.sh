#!/usr/bin/env bash
# End-to-end tests: boots the Debian 12 installer (text and graphical,
# from debian-installer-12-netboot-amd64) under libvirt with TCG and
# drives six screens of each with the scripts in examples/automation/,
# by OCR and keys only. About 3 minutes per installer on 2 cores.
#
# DESKVM_E2E_DEBUG=DIR keeps the screenshots, OCR JSON and report.html of
# each run in DIR/text and DIR/gtk.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
export PATH=$PATH:/usr/local/go/bin
if [ "$(id -u)" = 0 ] || [ "${CI:-}" = true ]; then export DESKVM_REQUIRE_ALL=1; fi
exec go test -run 'TestE2E' -count=1 -v -timeout 20m ./internal/automation/live/ "$@"
