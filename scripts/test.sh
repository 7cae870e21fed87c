#!/usr/bin/env bash
# Runs every check: formatting, vet, all tests with the race detector, and the
# interop tests against real clients (installed first if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
go vet ./...
SWARM_INTEROP=1 go test -race -count=1 -timeout 30m ./...
# The lab's swarm experiments compare peers under rate limits; the race
# detector makes them CPU-bound, so they run once more without it.
go test -count=1 -timeout 10m ./lab
# Every fuzz target for a bounded time (scripts/fuzz.sh; FUZZTIME=10m
# before a release, see RELIABILITY.md).
FUZZTIME=${FUZZTIME:-15s} scripts/fuzz.sh
