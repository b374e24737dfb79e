#!/usr/bin/env bash
# End-to-end tests against the real v4l2loopback driver: runs tests/e2e inside loopback-vm (a QEMU guest
# with Debian's v4l2loopback 0.12.7), once with exclusive_caps=1 (every test) and once with
# exclusive_caps=0 (device and restart tests), the two guests side by side (one CPU each), and prints how
# many tests ran. Skips (exit 0, saying why) only where loopback-vm cannot run: not Linux x86-64, no
# apt-get, or the tool is not there.
#
#   scripts/e2e.sh [python]       # python: the interpreter whose environment has vcamstyle (default: python3)
#   LOOPBACK_VM=/path/to/loopback-vm scripts/e2e.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${1:-$(command -v python3)}

skip() { echo "e2e: skipped ($*); 0 end-to-end tests ran"; exit 0; }
[ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] || skip "loopback-vm needs Linux on x86-64"
command -v apt-get >/dev/null 2>&1 || skip "loopback-vm installs its guest from Debian packages: no apt-get here"
VM=${LOOPBACK_VM:-}
for candidate in ../shared/tools/loopback-vm/loopback-vm ../../shared/tools/loopback-vm/loopback-vm; do
  [ -z "$VM" ] && [ -x "$candidate" ] && VM=$candidate
done
[ -n "$VM" ] && [ -x "$VM" ] || skip "loopback-vm not found (set LOOPBACK_VM)"

LOOPBACK_VM_PACKAGES="v4l-utils ffmpeg chromium" "$VM" --setup || { echo "e2e: loopback-vm --setup failed"; exit 1; }

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
start=$(date +%s)
run_guest() {  # $1: exclusive_caps, rest: pytest arguments
  local excl=$1; shift
  "$VM" --exclusive-caps "$excl" --timeout 2400 --env VCAMSTYLE_E2E=1 --env VCAMSTYLE_E2E_EXCLUSIVE_CAPS="$excl" \
    --env PYTHONPATH="$PWD" -- "$PY" -m pytest -q -p no:cacheprovider -o addopts="" -rs --durations=20 "$@" \
    >"$OUT/excl$excl.log" 2>&1
  echo $? >"$OUT/excl$excl.rc"
}
run_guest 1 tests/e2e &
run_guest 0 tests/e2e/test_1_device.py tests/e2e/test_2_restarts.py &
wait
status=0
total=0
for excl in 1 0; do
  echo "---- e2e in loopback-vm, exclusive_caps=$excl ----"
  cat "$OUT/excl$excl.log"
  rc=$(cat "$OUT/excl$excl.rc")
  ran=$(grep -Eo '[0-9]+ passed' "$OUT/excl$excl.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  failed=$(grep -Eo '[0-9]+ failed' "$OUT/excl$excl.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  total=$((total + ran + failed))
  [ "$rc" = 0 ] || status=1
done
echo "e2e: $total end-to-end tests ran in loopback-vm ($(( $(date +%s) - start )) s), status $status"
exit $status
