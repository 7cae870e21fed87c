#!/usr/bin/python3
"""Run a libtorrent DHT node on 127.0.0.1 for interop tests.

lt_dht.py announce PORT BOOTSTRAP_HOST:PORT INFOHASH_HEX SAVE_DIR
lt_dht.py get      PORT BOOTSTRAP_HOST:PORT INFOHASH_HEX WANT_HOST:PORT [TIMEOUT_S]

Prints "listening PORT" once its DHT runs (UDP on PORT). 'announce' adds
INFOHASH as a torrent without metadata, which libtorrent announces into the
DHT with peer port PORT every 5 s (the Python bindings of 2.0.8 cannot call
session.dht_announce: its flags type is not exported); it runs until killed.
'get' asks the DHT for INFOHASH's peers every 2 s, prints "found HOST:PORT"
and exits 0 once WANT is among them, or prints "timeout" and exits 1.
libtorrent's routing restrictions for local addresses are turned off, or it
would keep one node per IP and refuse loopback nodes, and so is its per-IP
packet limit (dht_block_ratelimit, 5/s), since every node here is 127.0.0.1.
"""
import os, sys, time
import libtorrent as lt
from lt_loopback import dht_session_settings, wait_dht

mode, port, boot, ih_hex, arg = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
want = arg if mode == "get" else None
timeout = float(sys.argv[6]) if mode == "get" and len(sys.argv) > 6 else 60

cat = lt.alert.category_t
settings = dht_session_settings(port, boot)
settings["alert_mask"] = (cat.error_notification | cat.dht_notification | cat.dht_operation_notification
    | (cat.dht_log_notification if os.environ.get("LT_DHT_DEBUG") else 0))
ses = lt.session(settings)
ih = lt.sha1_hash(bytes.fromhex(ih_hex))

start = time.time()
wait_dht(ses)
if mode == "announce":
    p = lt.add_torrent_params()
    p.info_hashes = lt.info_hash_t(ih)
    p.save_path = arg
    ses.add_torrent(p)

last = 0
while True:
    now = time.time()
    if now - last >= 2:
        last = now
        if mode == "get":
            ses.dht_get_peers(ih)
    for a in ses.pop_alerts():
        if isinstance(a, lt.dht_get_peers_reply_alert):
            peers = [f"{h}:{p}" for h, p in a.peers()]
            print("peers", " ".join(peers), flush=True)
            if want in peers:
                print("found", want, flush=True)
                sys.exit(0)
        elif isinstance(a, lt.dht_announce_alert):
            print("announce from", a.ip, a.port, flush=True)
        elif isinstance(a, (lt.dht_log_alert, lt.dht_pkt_alert)):
            print("dht:", a.message(), flush=True)
        elif a.category() & cat.error_notification:
            print("alert", a.message(), file=sys.stderr, flush=True)
    if mode == "get" and now - start > timeout:
        print("timeout", flush=True)
        sys.exit(1)
    time.sleep(0.05)
