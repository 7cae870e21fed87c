#!/usr/bin/python3
"""Run a libtorrent peer for the peer exchange (BEP 11) interop test.

lt_pex.py TORRENT SAVE_DIR PORT [PEER_HOST:PORT ...]

Adds TORRENT (downloading into SAVE_DIR; with no seed about it stays at 0%),
connects to the peers given and prints "listening PORT" once ready. Then it
prints, once per peer connection, "peer HOST:PORT source N outgoing B" (N is
libtorrent's peer_info source: 1 tracker, 2 DHT, 4 pex, 32 incoming), and the
peer log lines about pex messages (libtorrent logs every ut_pex message it
reads or sends), outgoing connection attempts and closed connections, as
"peerlog HOST:PORT MESSAGE". Runs until killed. Settings follow
INTEROP.md: loopback only, no DHT/LSD/UPnP/uTP, several connections per IP.
"""
import sys, time
import libtorrent as lt

torrent, save, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
peers = sys.argv[4:]

ses = lt.session({
    "listen_interfaces": f"127.0.0.1:{port}",
    "outgoing_interfaces": "127.0.0.1",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_incoming_utp": False, "enable_outgoing_utp": False,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.peer_log_notification,
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save
h = ses.add_torrent(params)
print("listening", ses.listen_port(), flush=True)
for peer in peers:
    host, p = peer.rsplit(":", 1)
    h.connect_peer((host, int(p)))

seen = set()
while True:
    for pi in h.get_peer_info():
        key = (pi.ip, pi.source, bool(pi.flags & lt.peer_info.outgoing_connection))
        if key not in seen:
            seen.add(key)
            print(f"peer {pi.ip[0]}:{pi.ip[1]} source {pi.source} outgoing {int(key[2])}", flush=True)
    for a in ses.pop_alerts():
        if isinstance(a, lt.peer_log_alert):
            msg = a.message()
            if any(k in msg for k in ("PEX", "OUTGOING_CONNECTION", "CONNECTION_CLOSED")):
                print(f"peerlog {a.endpoint[0]}:{a.endpoint[1]} {msg}", flush=True)
        elif a.category() & lt.alert.category_t.error_notification:
            print("alert", a.message(), file=sys.stderr, flush=True)
    time.sleep(0.1)
