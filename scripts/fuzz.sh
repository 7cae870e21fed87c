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
failed=()
for pkg in "${pkgs[@]}"; do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $target for $FUZZTIME"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"; then
      failed+=("$pkg $target")
    fi
  done
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that failed:"; printf '  %s\n' "${failed[@]}"; exit 1
fi
