#!/usr/bin/env bash
# HTTP tracker with a new TCP connection per announce, as real clients
# announce: swarm's trackerd against opentracker, wrk with
# "Connection: close" and announce.lua, RUNS alternating runs of each, and
# the tracker's CPU time per 1,000 announces from /proc (user + system),
# the figure that matters when wrk shares the cores. One JSON line a run.
#
# Usage: bench/tracker/close.sh   (env: SWARMS PEERS RUNS DURATION; wrk,
# opentracker and go on PATH). BASE=REV (a git revision) also builds
# trackerd at REV and runs it as "base" in each round, so that two builds
# and opentracker share the machine's noise; each line gives the load
# average.
set -euo pipefail
SWARMS=${SWARMS:-1000}
PEERS=${PEERS:-100}
RUNS=${RUNS:-4}
DURATION=${DURATION:-5s}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/trackerd" ./bench/tracker/trackerd && go build -o "$work/preload" ./bench/tracker/preload)
names="swarm opentracker"
if [ -n "${BASE:-}" ]; then
	mkdir -p "$work/base"
	git -C "$root" archive "$BASE" | tar -x -C "$work/base"
	(cd "$work/base" && go build -o "$work/trackerd-base" ./bench/tracker/trackerd)
	names="base swarm opentracker"
fi
mkdir -p "$work/ot"
"$work/preload" --swarms "$SWARMS" --whitelist "$work/ot/whitelist.txt"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for _ in $(seq "$RUNS"); do
	for name in $names; do
		port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		if [ "$name" = swarm ]; then
			"$work/trackerd" --listen-addr "127.0.0.1:$port" --min-interval 1s --log-level warn &
		elif [ "$name" = base ]; then
			"$work/trackerd-base" --listen-addr "127.0.0.1:$port" --min-interval 1s --log-level warn &
		else
			opentracker -i 127.0.0.1 -p "$port" -w /whitelist.txt -d "$work/ot" -A 127.0.0.1 >/dev/null 2>&1 &
		fi
		pid=$!
		sleep 0.5
		"$work/preload" --url "http://127.0.0.1:$port/announce" --swarms "$SWARMS" --peers "$PEERS" >/dev/null
		c0=$(cpu_ticks "$pid")
		out=$(SWARMS=$SWARMS PEERS=$PEERS TRACKER_NAME=$name-close wrk -t2 -c50 -d"$DURATION" -H "Connection: close" \
			-s "$here/announce.lua" "http://127.0.0.1:$port" | grep '^{')
		c1=$(cpu_ticks "$pid")
		n=$(echo "$out" | grep -o '"requests":[0-9]*' | cut -d: -f2)
		# Clock ticks are 1/100 s; opentracker's closes count as wrk read errors.
		echo "$out" | sed "s/,\"errors.*}}\$/,\"cpu_ms_per_1000\":$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) * 10 * 1000 / n }'),\"load\":$(cut -d' ' -f1 /proc/loadavg)}/"
		kill "$pid"
		wait "$pid" 2>/dev/null || true
		pid=
	done
done
