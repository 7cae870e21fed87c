#!/usr/bin/python3
"""A libtorrent seeder for the page's browser test.

lt_seeder.py DIR TARGET_PORT RATE

Writes two torrents' content into DIR/seed (a folder of two files and one
file), makes v1 .torrent files for them without trackers, seeds both on
127.0.0.1 at RATE bytes/s in all (so a download lasts long enough to be
watched), and every second connects each torrent to the client under test
at 127.0.0.1:TARGET_PORT (that client cannot find it any other way). Prints
one JSON line {"ready": true, ...} with the .torrent paths, magnet links and
names, then runs until stdin closes or 300 s pass. Settings follow
INTEROP.md: loopback only, TCP only, no DHT/LSD/UPnP.
"""
import json, os, select, sys, time
import libtorrent as lt

work, target, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seed = os.path.join(work, "seed")
content = {
    "web test folder": {"a.bin": 1536 * 1024, "sub/b.txt": 5000},
    "web test single.bin": 512 * 1024,
}
for name, spec in content.items():
    files = spec.items() if isinstance(spec, dict) else [("", spec)]
    for rel, size in files:
        p = os.path.join(seed, name, rel) if rel else os.path.join(seed, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(os.urandom(size))

settings = {
    "listen_interfaces": "127.0.0.1:0",
    "outgoing_interfaces": "127.0.0.1",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_incoming_utp": False, "enable_outgoing_utp": False,
    "allow_multiple_connections_per_ip": True,
    "upload_rate_limit": rate,
    # Loopback peers are exempt from limits unless told otherwise.
    "ignore_limits_on_local_network": False,
    # The client under test refuses our first connections, made before it
    # has the torrent: try again each second, and unchoke each second
    # rather than every 15 s.
    "min_reconnect_time": 1,
    "unchoke_interval": 1,
}
ses = lt.session(settings)
f = lt.ip_filter()
glob = 1 << lt.session.global_peer_class_id
f.add_rule("0.0.0.0", "255.255.255.255", glob)
ses.set_peer_class_filter(f)

out = {"ready": True, "torrents": []}
handles = []
for name in content:
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(seed, name))
    ct = lt.create_torrent(fs, 64 * 1024, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, seed)
    data = lt.bencode(ct.generate())
    path = os.path.join(work, name + ".torrent")
    with open(path, "wb") as fh:
        fh.write(data)
    ti = lt.torrent_info(path)
    params = lt.add_torrent_params()
    params.ti = ti
    params.save_path = seed
    params.flags |= lt.torrent_flags.seed_mode
    handles.append(ses.add_torrent(params))
    out["torrents"].append({"name": name, "torrent": path, "magnet": lt.make_magnet_uri(ti),
                            "hash": str(ti.info_hashes().v1)})
out["port"] = ses.listen_port()
print(json.dumps(out), flush=True)

start = time.time()
while time.time() - start < 300:
    for h in handles:
        if not h.get_peer_info():
            h.connect_peer(("127.0.0.1", target))
    r, _, _ = select.select([sys.stdin], [], [], 1)
    if r and not sys.stdin.buffer.read1(4096):
        break
