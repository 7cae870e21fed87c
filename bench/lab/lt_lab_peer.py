#!/usr/bin/python3
"""libtorrent side of bench/lab: one seed or one leecher, one session, one process.

  lt_lab_peer.py --torrent T --dir DIR --tracker URL --upload-rate BYTES_PER_S
                 [--seed] [--timeout S] [--stats] [--local-limits MODE]

Creates its session (libtorrent's default settings plus the loopback settings
of /work/shared/INTEROP.md), prints {"ready": true} and waits for one line on
stdin. Then it adds T (a seed checks the data it finds in DIR; a leecher
downloads into DIR, which must be empty), announces to URL (the only tracker
used) and runs until its stdin closes, the timeout passes or it is killed.
Leechers keep seeding once complete. The bench starts every process first and
then sends the line to all of them at once, so Python's start-up (importing
libtorrent takes a sizeable fraction of a second per process on 2 cores) is
not counted against libtorrent.

Rate limits: upload_rate_limit = BYTES_PER_S (0: none); download unlimited.
libtorrent puts local peers (127/8 among them) in the local peer class, which
has no limits: --local-limits "apply" (the default) sets
ignore_limits_on_local_network=False and maps every IPv4 and IPv6 address to
the global peer class with a peer-class filter, so the limit applies on
loopback; "exempt" keeps libtorrent's default (for showing the difference).
rate_limit_ip_overhead is off, so the limit counts what libtorrent sends on
its sockets (payload and protocol messages) as swarm's limiter does, not an
estimate of TCP/IP headers on top. min_announce_interval is 1 s, so the peer
announces as often as the bench's tracker asks (1 s), as swarm does; with
libtorrent's default floor (300 s) the tracker, which forgets peers silent for
two intervals, would drop it and leechers starting later would not find it.

--stats prints one JSON line a second after the torrent is added:
{"t": seconds since added, "at": Unix time, "down": payload bytes downloaded, "up": payload
bytes uploaded, "progress": 0..1, "peers": n, "seeding": bool}. The bench
uses it only to measure a rate-limited transfer (rate check), never to decide
completion, which it reads from the tracker's scrape for every client alike.

Run it with Debian's /usr/bin/python3, which has the libtorrent module.
"""

import argparse
import json
import os
import select
import sys
import time

import libtorrent as lt

# lt_bench.py is next to this script in the bench's work folder, and in
# bench/internal/ltpy when the script is run from the repository.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "internal", "ltpy"))
from lt_bench import loopback  # noqa: E402


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def settings(args):
    s = lt.default_settings()
    s.update(loopback(args.port))
    s.update({
        "upload_rate_limit": args.upload_rate,
        "download_rate_limit": 0,
        "rate_limit_ip_overhead": False,
        # Follow the tracker's interval (the bench's tracker asks for 1 s and
        # forgets a peer after two intervals without an announce); the
        # default floor of 300 s would let the tracker drop this peer.
        "min_announce_interval": 1,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
        | lt.alert.category_t.tracker_notification,
    })
    if args.local_limits == "apply":
        s["ignore_limits_on_local_network"] = False
    return s


def apply_limits_to_local_peers(ses):
    f = lt.ip_filter()
    glob = 1 << lt.session.global_peer_class_id
    f.add_rule("0.0.0.0", "255.255.255.255", glob)
    f.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", glob)
    ses.set_peer_class_filter(f)


def stdin_closed(timeout_s):
    """Waits up to timeout_s for stdin; True once it is at EOF."""
    r, _, _ = select.select([sys.stdin], [], [], timeout_s)
    return bool(r) and not sys.stdin.buffer.read1(4096)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--torrent", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--tracker", required=True)
    p.add_argument("--upload-rate", type=int, default=0)
    p.add_argument("--seed", action="store_true")
    p.add_argument("--super-seed", action="store_true")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--stats", action="store_true")
    p.add_argument("--local-limits", choices=["apply", "exempt"], default="apply")
    args = p.parse_args()
    deadline = time.monotonic() + args.timeout

    if not args.seed:
        if os.path.exists(args.dir) and os.listdir(args.dir):
            emit({"ready": False, "error": "leecher dir %s is not empty" % args.dir})
            return 1
        os.makedirs(args.dir, exist_ok=True)
    ses = lt.session(settings(args))
    if args.local_limits == "apply":
        apply_limits_to_local_peers(ses)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.trackers = [args.tracker]  # the bench makes torrents without trackers
    atp.save_path = args.dir
    if args.super_seed:
        atp.flags |= lt.torrent_flags.super_seeding
    applied = ses.get_settings()
    emit({"ready": True, "pid": os.getpid(), "libtorrent": lt.__version__,
          "upload_rate_limit": applied["upload_rate_limit"],
          "ignore_limits_on_local_network": applied["ignore_limits_on_local_network"],
          "allow_multiple_connections_per_ip": applied["allow_multiple_connections_per_ip"]})

    # Wait for the go line.
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 1
        r, _, _ = select.select([sys.stdin], [], [], min(left, 1.0))
        if r:
            if not sys.stdin.buffer.readline():
                return 0  # closed before go
            break

    t0 = time.monotonic()
    h = ses.add_torrent(atp)
    next_stats = t0 + 1.0
    while time.monotonic() < deadline:
        wait = 0.2 if args.stats else 1.0
        if stdin_closed(wait):
            break
        for a in ses.pop_alerts():
            if a.category() & lt.alert.category_t.error_notification:
                sys.stderr.write("alert: %s\n" % a.message())
        if args.stats and time.monotonic() >= next_stats:
            next_stats += 1.0
            s = h.status()
            emit({"t": round(time.monotonic() - t0, 3), "at": time.time(), "down": s.total_payload_download,
                  "up": s.total_payload_upload, "progress": s.progress,
                  "peers": s.num_peers, "seeding": s.is_seeding})
    return 0


if __name__ == "__main__":
    sys.exit(main())
