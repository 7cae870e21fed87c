#!/usr/bin/python3
"""uTP against libtorrent (issue 21, item 4): connection time, time to the
first piece and throughput of a default-settings libtorrent leecher on
127.0.0.1, from a swarm seed and from a libtorrent seed, in the same run.

  /usr/bin/python3 bench/utp/utp_bench.py --swarm BIN [--swarm-before BIN]
      [--size MiB] [--runs N] [--dir /dev/shm]

The leecher has libtorrent's defaults (uTP first, then TCP; an encrypted
handshake first) apart from the loopback settings of INTEROP.md, with uTP
left on. Timing starts at connect_peer; "connected" is the first peer past
its handshake, "first_piece" the first piece verified, MB/s is the content
over the time from connected to complete. --swarm-before measures another
swarm binary (main, TCP only) the same way. One JSON line per run, then
the medians.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time
import libtorrent as lt

UTP_SOCKET = getattr(lt.peer_info, "utp_socket", 1 << 17)  # no binding in 2.0


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback(port, utp=True):
    return {"listen_interfaces": "127.0.0.1:%d" % port, "outgoing_interfaces": "127.0.0.1",
            "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
            "enable_incoming_utp": utp, "enable_outgoing_utp": utp,
            "allow_multiple_connections_per_ip": True}


def leech(torrent, save, port, timeout):
    ses = lt.session(loopback(0))
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save
    h = ses.add_torrent(atp)
    t0 = time.monotonic()
    h.connect_peer(("127.0.0.1", port))
    r = {"connected": None, "utp": None, "first_piece": None, "complete": None}
    while time.monotonic() - t0 < timeout:
        now = time.monotonic() - t0
        if r["connected"] is None:
            for p in h.get_peer_info():
                if not p.flags & (lt.peer_info.connecting | lt.peer_info.handshake):
                    r["connected"], r["utp"] = now, bool(p.flags & UTP_SOCKET)
        s = h.status()
        if r["first_piece"] is None and s.num_pieces > 0:
            r["first_piece"] = now
        if s.is_seeding:
            r["complete"] = now
            break
        time.sleep(0.005)
    del ses
    return r


def run_pair(name, start_seed, torrent, size, args):
    port = free_port()
    seed = start_seed(port)
    try:
        time.sleep(1.0)  # the seed checks its data and listens
        save = tempfile.mkdtemp(dir=args.dir)
        try:
            r = leech(torrent, save, port, args.timeout)
        finally:
            shutil.rmtree(save)
    finally:
        seed.terminate()
        seed.wait()
    if r["complete"] and r["connected"] is not None:
        r["MBps"] = round(size / 1e6 / max(r["complete"] - r["connected"], 1e-6), 1)
    r["pair"] = name
    for k in ("connected", "first_piece", "complete"):
        if r[k] is not None:
            r[k] = round(r[k], 3)
    print(json.dumps(r), flush=True)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--swarm", required=True)
    ap.add_argument("--swarm-before")
    ap.add_argument("--size", type=int, default=64, help="MiB")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default="/dev/shm")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    work = tempfile.mkdtemp(dir=args.dir)
    try:
        data = os.path.join(work, "data")
        os.mkdir(data)
        size = args.size << 20
        with open(os.path.join(data, "content.bin"), "wb") as f:
            f.write(os.urandom(size))
        torrent = os.path.join(work, "content.torrent")
        subprocess.run([args.swarm, "create", os.path.join(data, "content.bin"), "-o", torrent, "--piece-length", "256KiB"],
                       check=True, capture_output=True)
        py = sys.executable
        here = os.path.abspath(__file__)

        def swarm_seed(binary):
            return lambda port: subprocess.Popen([binary, "seed", torrent, "--data", data, "--listen", "127.0.0.1:%d" % port,
                                                  "--dht=false", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def lt_seed(port):
            return subprocess.Popen([py, here, "--seed", torrent, data, str(port)], stdout=subprocess.DEVNULL)

        pairs = [("swarm->libtorrent", swarm_seed(args.swarm)), ("libtorrent->libtorrent", lt_seed)]
        if args.swarm_before:
            pairs.insert(0, ("swarm(before)->libtorrent", swarm_seed(args.swarm_before)))
        results = {name: [] for name, _ in pairs}
        for _ in range(args.runs):
            for name, start in pairs:  # interleaved: load on the machine hits every pair alike
                results[name].append(run_pair(name, start, torrent, size, args))
        for name, rs in results.items():
            med = {}
            for k in ("connected", "first_piece", "MBps"):
                v = [r[k] for r in rs if r.get(k) is not None]
                med[k] = statistics.median(v) if v else None
            med["utp_runs"] = sum(1 for r in rs if r["utp"])
            med["runs"] = len(rs)
            print(json.dumps({"median": name, **med}), flush=True)
    finally:
        shutil.rmtree(work)


def seed_main(torrent, data, port):
    s = lt.high_performance_seed()
    s.update(loopback(port))
    ses = lt.session(s)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = data
    atp.flags |= lt.torrent_flags.seed_mode
    ses.add_torrent(atp)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--seed":
        seed_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
