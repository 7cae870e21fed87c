#!/usr/bin/env bash
# Redis mode of swarm's tracker: two `swarm tracker --redis` processes on one
# redis-server, loaded together, against one in-memory `swarm tracker` under
# the same total load, in the same run.
#
# Expects wrk, redis-server and go (this script installs nothing). It starts
# its own redis-server on a loopback port with its files in a temporary
# folder, preloads SWARMS x PEERS peers through announces (preload), then
# runs one wrk with announce.lua (random re-announces, keep-alive, numwant
# 50) per tracker at once, CONNECTIONS/2 connections each, and prints one
# JSON line per wrk, the sum, and the in-memory tracker's line for the same
# load (one wrk of CONNECTIONS connections). Everything shares the machine's
# cores: the trackers, redis-server (one thread) and wrk.
#
# Usage: bench/tracker/redis.sh   (env: SWARMS PEERS DURATION THREADS CONNECTIONS)
set -euo pipefail

SWARMS=${SWARMS:-1000}
PEERS=${PEERS:-100}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-50}
REDIS_PORT=${REDIS_PORT:-16479}
PORT_A=${PORT_A:-16891}
PORT_B=${PORT_B:-16892}
PORT_MEM=${PORT_MEM:-16893}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
for tool in wrk redis-server go; do
	command -v "$tool" >/dev/null || { echo "redis.sh: $tool not found on PATH" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/swarm" ./cmd/swarm && go build -o "$work/preload" ./bench/tracker/preload)

wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "redis.sh: nothing listening on port $1" >&2
	exit 1
}

tracker() { # PORT [--redis URL]
	"$work/swarm" tracker --listen "127.0.0.1:$1" --min-interval 1s --ip-rate 0 --max-swarms 0 --log-level warn "${@:2}" &
	pids+=($!)
	wait_port "$1"
}

load() { # NAME PORT CONNECTIONS
	SWARMS=$SWARMS PEERS=$PEERS TRACKER_NAME=$1 \
		wrk -t"$THREADS" -c"$3" -d"$DURATION" -s "$here/announce.lua" "http://127.0.0.1:$2" | grep '^{' | tee "$work/$1.json"
}
# cpu_ms PID: the process's user+system CPU so far, in ms.
cpu_ms() { awk -v t="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / t) }' "/proc/$1/stat"; }
num() { grep -o "\"$2\":[0-9.]*" "$work/$1.json" | cut -d: -f2; }

redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$work" --save "" --appendonly no --logfile "$work/redis.log" &
pids+=($!)
wait_port "$REDIS_PORT"
url="redis://127.0.0.1:$REDIS_PORT/0"
redis_pid=$!
tracker "$PORT_A" --redis "$url"
pid_a=$!
tracker "$PORT_B" --redis "$url"
pid_b=$!
"$work/preload" --url "http://127.0.0.1:$PORT_A/announce" --swarms "$SWARMS" --peers "$PEERS"
r0=$(cpu_ms "$redis_pid") t0=$(($(cpu_ms "$pid_a") + $(cpu_ms "$pid_b")))
load redis-A "$PORT_A" $((CONNECTIONS / 2)) &
a=$!
load redis-B "$PORT_B" $((CONNECTIONS / 2))
wait "$a"
r1=$(cpu_ms "$redis_pid") t1=$(($(cpu_ms "$pid_a") + $(cpu_ms "$pid_b")))
# CPU per 1,000 announces: of redis-server, and of both trackers together.
awk -v a="$(num redis-A announces_per_s)" -v b="$(num redis-B announces_per_s)" \
	-v na="$(num redis-A requests)" -v nb="$(num redis-B requests)" \
	-v pa="$(num redis-A p99_ms)" -v pb="$(num redis-B p99_ms)" -v r=$((r1 - r0)) -v t=$((t1 - t0)) \
	'BEGIN { printf "{\"tracker\":\"swarm-redis-2-processes\",\"announces_per_s\":%.0f,\"p99_ms_worst\":%.3f,\"redis_cpu_ms_per_1000\":%.1f,\"trackers_cpu_ms_per_1000\":%.1f}\n", a+b, (pa > pb ? pa : pb), 1000*r/(na+nb), 1000*t/(na+nb) }' | tee "$work/redis.json"

# Redis's own account of the announce script: calls and microseconds a call.
redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' | awk -F'[:,=]' '/^cmdstat_evalsha/ { printf "{\"redis_evalsha_calls\":%s,\"redis_usec_per_call\":%s}\n", $3, $7 }'

tracker "$PORT_MEM"
pid_m=$!
"$work/preload" --url "http://127.0.0.1:$PORT_MEM/announce" --swarms "$SWARMS" --peers "$PEERS"
m0=$(cpu_ms "$pid_m")
load swarm-memory "$PORT_MEM" "$CONNECTIONS"
awk -v n="$(num swarm-memory requests)" -v c=$(($(cpu_ms "$pid_m") - m0)) \
	'BEGIN { printf "{\"tracker\":\"swarm-memory\",\"tracker_cpu_ms_per_1000\":%.1f}\n", 1000*c/n }'
awk -v r="$(num redis announces_per_s)" -v m="$(num swarm-memory announces_per_s)" \
	'BEGIN { printf "{\"ratio\":\"redis-2-processes/memory\",\"announces_per_s\":%.2f}\n", r/m }'
