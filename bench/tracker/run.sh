#!/usr/bin/env bash
# Tracker benchmark: swarm's tracker (trackerd, a thin main over
# tracker/server) against opentracker, under the same wrk load, and swarm's
# private mode (tracker/private: passkeys, registered torrents, accounting in
# SQLite, then in PostgreSQL) beside its public mode.
#
# Expects wrk and opentracker on PATH (Debian packages; this script installs
# nothing) and go. For each tracker in turn: start it on loopback, preload
# SWARMS x PEERS peers through announces, run wrk with announce.lua (random
# re-announces of those peers, keep-alive, numwant=50) and print one JSON line
# with announces/s and p50/p99 latency, then stop it. Ends with a ratio line
# and the registry's heap per tracked peer at one million peers.
#
# wrk shares the machine's cores with the tracker under test: opentracker is
# one thread, swarm uses every core (GOMAXPROCS, inherited from the
# environment), so on 2 cores swarm's tail latency includes the OS time-slicing
# it against wrk. GOMAXPROCS=1 shows swarm on one core like opentracker.
#
# Private mode: preload --setup-db registers TORRENTS torrents (the SWARMS
# announced among them) and USERS users; each peer announces with its user's passkey, and wrk's announces
# carry growing uploaded/downloaded counters, so every accepted announce is
# accounted and its session journaled at the next flush (once a second). The
# journal is folded every 20 s here (1 min by default), so that the
# measurement includes a fold. The
# min interval is 1 s for both modes (public mode only sends it): a peer
# re-announced sooner by the random load is refused. Each bench user stands
# for PEERS*SWARMS/USERS peers, far more than one person runs, so the
# per-passkey rate limit is raised out of the way (it is still checked on
# every request). Refusals are cheap, so the ratio line compares announces
# accepted per second in private mode with public mode's announces/s.
#
#
# PostgreSQL: when Debian's postgresql is installed (/usr/lib/postgresql/*/
# bin; PG=0 skips it), the private run is repeated with the accounting in a
# throwaway cluster on loopback (pg_ctl, as user postgres when run as root;
# default settings, fsync on). Each private run prints the flush cost: the
# mean flush and fold times and the milliseconds a second spent writing, and
# for PostgreSQL the server's CPU milliseconds a second.
#
# Usage: bench/tracker/run.sh   (env: SWARMS PEERS USERS TORRENTS DURATION THREADS CONNECTIONS ONLY_SWARM=1 PG=0)
set -euo pipefail

SWARMS=${SWARMS:-10000}
PEERS=${PEERS:-100}
USERS=${USERS:-10000}
TORRENTS=${TORRENTS:-100000}
DURATION=${DURATION:-20s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-50}
SWARM_PORT=${SWARM_PORT:-16881}
OT_PORT=${OT_PORT:-16969}
PRIVATE_PORT=${PRIVATE_PORT:-16882}
PG_PRIVATE_PORT=${PG_PRIVATE_PORT:-16883}
PG_PORT=${PG_PORT:-16432}

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
for tool in wrk opentracker go; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found on PATH" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
pg_started=
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "$pg_started" ]; then as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/trackerd" ./bench/tracker/trackerd && go build -o "$work/preload" ./bench/tracker/preload)

# wait_port PORT: until something accepts on 127.0.0.1:PORT (at most 10 s).
wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "run.sh: nothing listening on port $1" >&2
	exit 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# as_pg CMD...: run CMD as user postgres when root (PostgreSQL refuses root).
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_cpu_ticks: CPU ticks (1/100 s) used so far by the PostgreSQL server
# and its backends.
pg_cpu_ticks() {
	local pm t=0 p
	pm=$(head -1 "$work/pg/data/postmaster.pid")
	for p in $pm $(ps -o pid= --ppid "$pm"); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# metrics PORT: the tracker's Prometheus metrics (bash only, no curl).
metrics() {
	exec 3<>"/dev/tcp/127.0.0.1/$1"
	printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	cat <&3
	exec 3<&-
}

# bench NAME PORT PID [PASSKEYS]: preload, then measure.
bench() {
	local name=$1 port=$2 pid=$3 keys=${4:-} rss0
	wait_port "$port"
	rss0=$(rss_kib "$pid")
	"$work/preload" --url "http://127.0.0.1:$port/announce" --swarms "$SWARMS" --peers "$PEERS" ${keys:+--passkeys "$keys"}
	echo "{\"tracker\":\"$name\",\"preloaded_peers\":$((SWARMS * PEERS)),\"rss_mib_before\":$((rss0 / 1024)),\"rss_mib_after_preload\":$(($(rss_kib "$pid") / 1024))}"
	local cpu0=
	[ -n "${PG_MEASURE:-}" ] && cpu0=$(pg_cpu_ticks)
	[ -n "$keys" ] && metrics "$port" >"$work/$name-metrics-before.txt"
	BENCH_EPOCH=$epoch PASSKEYS=$keys SWARMS=$SWARMS PEERS=$PEERS TRACKER_NAME=$name \
		wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$here/announce.lua" "http://127.0.0.1:$port" \
		| grep '^{' | tee "$work/$name.json"
	pg_cpu_ms=
	[ -n "$cpu0" ] && pg_cpu_ms=$((($(pg_cpu_ticks) - cpu0) * 10))
	if [ -n "$keys" ]; then
		# What private mode did with the load, from its metrics before and
		# after it: refusals by reason, bytes accounted, database writes.
		metrics "$port" >"$work/$name-metrics-after.txt"
		awk -v name="$name" -v rss="$(($(rss_kib "$pid") / 1024))" -v pgcpu="${pg_cpu_ms:-}" '
			/^swarm_tracker_(private_|announces_total)/ { if (FNR == NR) before[$1] = $2; else after[$1] = $2 }
			END {
				for (k in after) {
					d = after[k] - before[k]
					if (k ~ /^swarm_tracker_private_refusals_total/) { split(k, a, "\""); r = r sprintf("%s\"%s\":%d", (r ? "," : ""), a[2], d) }
					else if (k ~ /^swarm_tracker_private_accounted_bytes_total/) acc += d
					else if (k ~ /^swarm_tracker_private_flush_seconds_sum/) fs = d
					else if (k ~ /^swarm_tracker_private_flush_seconds_count/) fc = d
					else if (k ~ /^swarm_tracker_private_fold_seconds_sum/) ds = d
					else if (k ~ /^swarm_tracker_private_fold_seconds_count/) dc = d
					else if (k ~ /^swarm_tracker_private_sessions$/) ss = after[k]
					else if (k ~ /^swarm_tracker_announces_total/) ann += d
				}
				printf "{\"tracker\":\"%s\",\"accepted_per_s\":%.0f,\"refusals\":{%s},\"accounted_bytes\":%.0f,\"sessions\":%d,\"flushes\":%d,\"flush_mean_ms\":%.1f,\"folds\":%d,\"fold_mean_ms\":%.0f,\"writing_ms_per_s\":%.0f%s,\"rss_mib_end\":%d}\n",
					name, ann / secs, r, acc, ss, fc, (fc ? 1000 * fs / fc : 0), dc, (dc ? 1000 * ds / dc : 0),
					1000 * (fs + ds) / secs, (pgcpu != "" ? sprintf(",\"postgres_cpu_ms_per_s\":%.0f", pgcpu / secs) : ""), rss }' \
			secs="$(grep -o '"duration_s":[0-9.]*' "$work/$name.json" | cut -d: -f2)" \
			"$work/$name-metrics-before.txt" "$work/$name-metrics-after.txt" \
			| tee "$work/$name-accepted.json"
	fi
	if [ "$name" = swarm ]; then
		# opentracker closes the connection after every reply; this run
		# shows swarm under the same handicap.
		SWARMS=$SWARMS PEERS=$PEERS TRACKER_NAME=$name-connection-close \
			wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "Connection: close" -s "$here/announce.lua" "http://127.0.0.1:$port" \
			| grep '^{' | tee "$work/$name-close.json"
	fi
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}

epoch=$(date +%s)
"$work/trackerd" --listen-addr "127.0.0.1:$SWARM_PORT" --min-interval 1s --log-level warn &
pids+=($!)
bench swarm "$SWARM_PORT" "$!"

# private NAME PORT DB: private mode over DB (set up first), measured.
private() {
	"$work/preload" --setup-db "$3${SETUP_PARAMS:-}" --swarms "$SWARMS" --torrents "$TORRENTS" --users "$USERS" --passkeys "$work/passkeys.txt"
	"$work/trackerd" --listen-addr "127.0.0.1:$2" --min-interval 1s --private-db "$3" \
		--user-rate 1e9 --user-burst 1000000 --fold-interval 20s --log-level warn &
	pids+=($!)
	bench "$1" "$2" "$!" "$work/passkeys.txt"
	awk -v p="$(grep -o '"accepted_per_s":[0-9.]*' "$work/$1-accepted.json" | cut -d: -f2)" \
		-v s="$(grep -o '"announces_per_s":[0-9.]*' "$work/swarm.json" | cut -d: -f2)" -v name="$1" \
		'BEGIN { printf "{\"ratio\":\"%s/swarm\",\"accepted_announces_per_s\":%.2f,\"target_announces_per_s\":\">= 0.8\"}\n", name, p/s }'
}
private swarm-private "$PRIVATE_PORT" "$work/private.db"
echo "{\"private_db_mib\":$(($(du -k "$work/private.db" | cut -f1) / 1024))}"

if [ "${PG:-1}" != 0 ] && [ -n "$pg_bin" ]; then
	mkdir -p "$work/pg"
	if [ "$(id -u)" -eq 0 ]; then chmod 711 "$work"; chown postgres "$work/pg"; fi
	as_pg "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
	as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
		-o "-h 127.0.0.1 -p $PG_PORT -k $work/pg" start >/dev/null
	pg_started=1
	# The setup's 110,000 inserts commit without waiting for the disk; the
	# tracker's own commits do wait (synchronous_commit on, the default).
	SETUP_PARAMS="&synchronous_commit=off" PG_MEASURE=1 \
		private swarm-private-pg "$PG_PRIVATE_PORT" "postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
fi
if [ "${ONLY_SWARM:-}" = 1 ]; then exit 0; fi

# opentracker chroots to its directory: the whitelist path is inside it.
mkdir -p "$work/ot"
"$work/preload" --swarms "$SWARMS" --whitelist "$work/ot/whitelist.txt"
opentracker -i 127.0.0.1 -p "$OT_PORT" -w /whitelist.txt -d "$work/ot" -A 127.0.0.1 >"$work/ot.log" 2>&1 &
pids+=($!)
bench opentracker "$OT_PORT" "$!"

num() { grep -o "\"$2\":[0-9.]*" "$work/$1.json" | cut -d: -f2; }
# ratio NAME FILE: NAME's figures over opentracker's.
ratio() {
	awk -v name="$1" -v s="$(num "$2" announces_per_s)" -v o="$(num opentracker announces_per_s)" \
		-v s50="$(num "$2" p50_ms)" -v o50="$(num opentracker p50_ms)" \
		-v s99="$(num "$2" p99_ms)" -v o99="$(num opentracker p99_ms)" \
		'BEGIN { printf "{\"ratio\":\"%s/opentracker\",\"announces_per_s\":%.2f,\"p50\":%.2f,\"p99\":%.2f,\"target_announces_per_s\":\">= 1\"}\n", name, s/o, s50/o50, s99/o99 }'
}
ratio swarm swarm
ratio swarm-connection-close swarm-close

(cd "$root" && go run ./bench/tracker/memory --swarms "$SWARMS" --peers "$PEERS")
