#!/usr/bin/python3
"""Run a libtorrent peer on 127.0.0.1 for interop tests.

lt_peer.py seed TORRENT SAVE_DIR PORT [PEER_HOST:PORT] [--ssrf-mitigation]
lt_peer.py get  TORRENT SAVE_DIR PORT [PEER_HOST:PORT] [TIMEOUT_S] [--ssrf-mitigation]

Prints "listening PORT" once ready. 'seed' runs until killed; 'get' exits 0
when the download is complete and verified, 1 on timeout. Settings follow
INTEROP.md: loopback only, no DHT/LSD/UPnP/uTP, several connections per IP.
--ssrf-mitigation keeps libtorrent's default SSRF mitigation on, as
libtorrent and qBittorrent users have it. --utp keeps libtorrent's default
uTP on (it then tries uTP first, then TCP); --no-tcp turns TCP off, so that
every connection is uTP. --encrypt forces MSE/PE with RC4 both ways
(out_enc_policy and in_enc_policy forced, allowed_enc_level rc4): plaintext
peers are refused. With a peer, 'get' prints "connected SECONDS utp=0|1"
(and rc4=0|1) once the first peer finished its handshake and "first_piece SECONDS", both
counted from connect_peer.
"""
import sys, time
import libtorrent as lt

ssrf = "--ssrf-mitigation" in sys.argv
utp = "--utp" in sys.argv
notcp = "--no-tcp" in sys.argv
encrypt = "--encrypt" in sys.argv
sys.argv = [a for a in sys.argv if a not in ("--ssrf-mitigation", "--utp", "--no-tcp", "--encrypt")]
# --max-queue N: libtorrent's max_allowed_in_request_queue, which it also
# advertises as reqq; requests past it are rejected (BEP 6).
max_queue = None
if "--max-queue" in sys.argv:
    i = sys.argv.index("--max-queue")
    max_queue = int(sys.argv[i + 1])
    del sys.argv[i:i + 2]

mode, torrent, save, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
peer = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else None
timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 120

settings = lt.high_performance_seed() if mode == "seed" else {}
settings.update({
    "listen_interfaces": f"127.0.0.1:{port}",
    "outgoing_interfaces": "127.0.0.1",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_incoming_utp": utp, "enable_outgoing_utp": utp,
    "enable_incoming_tcp": not notcp, "enable_outgoing_tcp": not notcp,
    "allow_multiple_connections_per_ip": True,
    # Trackers on 127.0.0.1 with a path other than /announce (a private
    # tracker's /PASSKEY/announce) are otherwise refused as an SSRF risk.
    "ssrf_mitigation": ssrf,
    # Follow the tracker's interval (2 s in tests) instead of libtorrent's
    # floor of 5 minutes between announces.
    "min_announce_interval": 1,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
})
if max_queue is not None:
    settings["max_allowed_in_request_queue"] = max_queue
if encrypt:
    settings.update({
        "out_enc_policy": int(lt.enc_policy.forced), "in_enc_policy": int(lt.enc_policy.forced),
        "allowed_enc_level": int(lt.enc_level.rc4), "prefer_rc4": True,
    })
ses = lt.session(settings)
ti = lt.torrent_info(torrent)
params = lt.add_torrent_params()
params.ti = ti
params.save_path = save
if mode == "seed":
    params.flags |= lt.torrent_flags.seed_mode
h = ses.add_torrent(params)
print("listening", ses.listen_port(), flush=True)
if peer:
    host, p = peer.rsplit(":", 1)
    h.connect_peer((host, int(p)))

start = time.time()
connected = first_piece = False
# peer_info::utp_socket (1 << 17, between i2p_socket and ssl_socket) has no
# Python binding in libtorrent 2.0.
UTP_SOCKET = getattr(lt.peer_info, "utp_socket", 1 << 17)
RC4 = int(lt.peer_info.rc4_encrypted)
while True:
    if mode == "get" and peer and not connected:
        for p in h.get_peer_info():
            if not p.flags & (lt.peer_info.connecting | lt.peer_info.handshake):
                connected = True
                print("connected %.3f utp=%d rc4=%d" % (time.time() - start, 1 if p.flags & UTP_SOCKET else 0, 1 if p.flags & RC4 else 0), flush=True)
    s = h.status()
    if mode == "get" and peer and not first_piece and s.num_pieces > 0:
        first_piece = True
        print("first_piece %.3f" % (time.time() - start), flush=True)
    if mode == "get" and s.is_seeding:
        print("complete", s.total_wanted, flush=True)
        sys.exit(0)
    if mode == "get" and time.time() - start > timeout:
        print("timeout", s.progress, s.num_peers, flush=True)
        sys.exit(1)
    for a in ses.pop_alerts():
        if a.category() & lt.alert.category_t.error_notification:
            print("alert", a.message(), file=sys.stderr, flush=True)
    time.sleep(0.1 if first_piece else 0.02)
