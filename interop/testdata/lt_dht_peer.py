#!/usr/bin/python3
"""Run a libtorrent peer that finds its swarm through the DHT only, on 127.0.0.1.

lt_dht_peer.py seed PORT BOOTSTRAP_HOST:PORT TORRENT SAVE_DIR [ADD_AFTER_S]
lt_dht_peer.py get  PORT BOOTSTRAP_HOST:PORT MAGNET  SAVE_DIR [TIMEOUT_S]

PORT is both the TCP listen port and the DHT's UDP port. Prints "listening
PORT" once its DHT runs; 'seed' adds its torrent ADD_AFTER_S seconds later
(0 by default; until then it hangs up on handshakes for it) and prints
"added". Then, with seconds since the torrent was added, it prints:
"dht peers T N" when the DHT first gives it peers of the torrent, "metadata T"
when a magnet link's info dict has arrived, "complete T BYTES" when every
piece is verified. 'seed' runs until killed and prints "uploaded BYTES" every
second once it has uploaded something; 'get' exits 0 once complete, or prints
"timeout" and its state and exits 1. No tracker, no LSD, no peer given: only
the DHT can bring the peers together.

DHT settings as lt_dht.py (routing restrictions and the per-IP packet limit
off, since every node is 127.0.0.1), torrents re-announce every 5 s instead
of 15 minutes, uTP off (swarm is TCP only), several connections per IP.
"""
import sys, time
import libtorrent as lt
from lt_loopback import dht_session_settings, wait_dht

mode, port, boot, what, save = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
timeout = float(sys.argv[6]) if mode == "get" and len(sys.argv) > 6 else 90
add_after = float(sys.argv[6]) if mode == "seed" and len(sys.argv) > 6 else 0

cat = lt.alert.category_t
settings = dht_session_settings(port, boot)
settings.update({"enable_incoming_utp": False, "enable_outgoing_utp": False})
settings["alert_mask"] = (cat.error_notification | cat.status_notification | cat.tracker_notification
    | cat.connect_notification)
ses = lt.session(settings)

wait_dht(ses)

if mode == "seed":
    time.sleep(add_after)
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(what)
    p.flags |= lt.torrent_flags.seed_mode
else:
    p = lt.parse_magnet_uri(what)
p.save_path = save
h = ses.add_torrent(p)
added = time.time()
print("added", flush=True)


def since():
    return f"{time.time() - added:.2f}"


found = False
last_up = 0
last_print = 0


def drain():
    """Prints what the alerts since the last call say."""
    global found
    for a in ses.pop_alerts():
        if isinstance(a, lt.dht_reply_alert):
            if not found:
                print("dht peers", since(), a.num_peers, flush=True)
            found = True
        elif isinstance(a, lt.metadata_received_alert):
            print("metadata", since(), flush=True)
        elif isinstance(a, lt.peer_connect_alert):
            print(a.message(), flush=True)
        elif a.category() & cat.error_notification:
            print("alert", a.message(), file=sys.stderr, flush=True)


while True:
    drain()
    s = h.status()
    if mode == "get" and s.is_seeding:
        # The metadata and the whole file can both arrive within one
        # sleep: print the alerts posted before the status was read.
        drain()
        print("complete", since(), s.total_wanted, flush=True)
        sys.exit(0)
    if mode == "get" and time.time() - added > timeout:
        print("timeout", since(), "state", s.state, "progress", s.progress, "peers", s.num_peers,
              "has_metadata", s.has_metadata, flush=True)
        sys.exit(1)
    if mode == "seed" and s.total_payload_upload != last_up and time.time() - last_print >= 1:
        last_up, last_print = s.total_payload_upload, time.time()
        print("uploaded", last_up, flush=True)
    time.sleep(0.05)
