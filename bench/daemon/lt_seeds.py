#!/usr/bin/python3
"""libtorrent side of bench/daemon: one session seeding several torrents.

  lt_seeds.py --data DIR --port P TORRENT...

Seeds every TORRENT from DIR with lt.high_performance_seed() plus the
loopback settings of /work/shared/INTEROP.md (lt_bench.py), announcing to
the torrents' tracker. Prints {"ready": true} once all are seeding, then
seeds until its stdin closes (or an hour passes).
"""

import argparse
import json
import select
import sys
import time

import libtorrent as lt
from lt_bench import loopback

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("torrents", nargs="+")
a = ap.parse_args()

settings = lt.high_performance_seed()
settings.update(loopback(a.port))
ses = lt.session(settings)
handles = [ses.add_torrent({"ti": lt.torrent_info(t), "save_path": a.data}) for t in a.torrents]
deadline = time.time() + 300
while not all(h.status().is_seeding for h in handles):
    if time.time() > deadline:
        print(json.dumps({"ready": False, "error": "not seeding after 300 s"}), flush=True)
        sys.exit(1)
    time.sleep(0.1)
print(json.dumps({"ready": True}), flush=True)
end = time.time() + 3600
while time.time() < end:
    r, _, _ = select.select([sys.stdin], [], [], 1)
    if r and not sys.stdin.read(1):
        break
