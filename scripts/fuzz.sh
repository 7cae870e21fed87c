#!/usr/bin/env bash
# Runs every fuzz target of the module, one at a time, for FUZZTIME each
# (default 20s; CI uses the default). Before a release, run longer:
#   FUZZTIME=10m scripts/fuzz.sh            # every target, 10 minutes each
#   FUZZTIME=1h scripts/fuzz.sh ./peer      # the packages named, 1 hour each
# A crash makes the script fail; Go writes the crasher under the package's
# testdata/fuzz/FuzzName/, where plain `go test` replays it from then on:
# commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-20s}
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
  mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
fi
# Go 1.26's fuzz coordinator can end a run that found nothing with
# "context deadline exceeded" when a worker is mid-call as FUZZTIME runs out
# (golang/go#75804, fixed in Go 1.27), more often on a loaded machine. Such
# a run wrote no failing input: it is reported as a flake, not a failure.
failed=()
flaked=()
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for pkg in "${pkgs[@]}"; do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $target for $FUZZTIME"
    if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tee "$out"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
      continue
    fi
    if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written to' "$out"; then
      flaked+=("$pkg $target")
    else
      failed+=("$pkg $target")
    fi
  done
done
if [ ${#flaked[@]} -gt 0 ]; then
  echo "fuzz targets that stopped with golang/go#75804 (no failing input; not a failure):"; printf '  %s\n' "${flaked[@]}"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that failed:"; printf '  %s\n' "${failed[@]}"; exit 1
fi
