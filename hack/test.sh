#!/usr/bin/env bash
# The test command behind `make test` and .ci/run: static checks, unit and
# integration tests against the real parts, short fuzz runs. In CI a skipped
# test is a failure: every part is installed, so nothing may skip.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
export PATH=$PATH:/usr/local/go/bin

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt needed: $bad"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go mod tidy -diff"
go mod tidy -diff
echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
echo "== no test code in the binary"
# Test doubles and test knobs live in _test.go files and internal/testutil;
# the deskvm binary must link neither.
if go list -deps ./cmd/deskvm | grep -E '/internal/testutil(/|$)'; then
  echo "cmd/deskvm imports test-support packages (above)"; exit 1
fi
bin=$(mktemp)
go build -o "$bin" ./cmd/deskvm
if grep -a -o -E 'DESKVM_TEST[A-Z_]*' "$bin" | sort -u | grep .; then
  echo "the deskvm binary carries test hooks (above)"; rm -f "$bin"; exit 1
fi
rm -f "$bin"

if [ "$(id -u)" = 0 ] || [ "${CI:-}" = true ]; then export DESKVM_REQUIRE_ALL=1; fi

echo "== go test (unit + integration)"
log=$(mktemp)
set +e
go test -count=1 -timeout 40m -v ./... > "$log" 2>&1
rc=$?
set -e
grep -E '^(ok|FAIL|---|panic|\?)|^=== RUN .*/?$' "$log" | grep -vE '^=== RUN' | grep -vE '^--- PASS' || true
if [ $rc != 0 ]; then
  echo "== failures (full log: $log)"
  grep -B2 -A30 -E -- '--- FAIL|^panic' "$log" | head -300
  exit $rc
fi
if [ "${DESKVM_REQUIRE_ALL:-}" = 1 ] && grep -q -- '--- SKIP' "$log"; then
  echo "== skipped tests are failures here:"
  grep -A2 -- '--- SKIP' "$log"
  exit 1
fi

# Fuzz by execution count, not by wall time: `-fuzztime 10s` races its own
# deadline on a busy machine and then fails with "context deadline exceeded"
# without any failing input (golang/go#51484). A count has no deadline, so a
# failure here means an input that crashed, and that input is printed.
echo "== fuzz (short, ${DESKVM_FUZZ_EXECS:=40000} executions per target)"
for spec in $(grep -rl --include='*_test.go' -E '^func Fuzz' internal | sort); do
  pkg=./$(dirname "$spec")
  for f in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' "$spec" | awk '{print $2}'); do
    flog=$(mktemp)
    if ! go test -run '^$' -fuzz "^$f\$" -fuzztime "${DESKVM_FUZZ_EXECS}x" "$pkg" > "$flog" 2>&1; then
      echo "fuzz $f in $pkg failed; its output:"
      tail -60 "$flog"
      ls "$pkg/testdata/fuzz/$f" 2>/dev/null && for c in "$pkg"/testdata/fuzz/"$f"/*; do echo "== $c"; head -c 2000 "$c"; echo; done
      exit 1
    fi
    rm -f "$flog"
    echo "fuzz ok: $pkg $f"
  done
done

# The OCR speed targets (docs/benchmarks.md) as a benchmark with one core
# kept busy, as a TCG guest keeps it during an automation run. It prints
# the medians and the ratio to plain tesseract; it fails only when a read
# fails or misses the text, not on a slow machine.
echo "== OCR speed with one core busy (benchmark, 3 reads per screen)"
go test -run '^$' -bench 'FullVsPlain/busy|ReadAfterSmallChange/busy' -benchtime 3x ./internal/ocr/ | grep -E '^(Benchmark|ok|FAIL)'

passed=$(grep -c -- '^--- PASS' "$log" || true)
failed=$(grep -c -- '^--- FAIL' "$log" || true)
skipped=$(grep -c -- '^--- SKIP' "$log" || true)
echo "tests: $passed passed, $failed failed, $skipped skipped"
