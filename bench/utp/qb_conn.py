#!/usr/bin/python3
"""Connection time from a qBittorrent-nox with default connection settings
(uTP and TCP, encryption allowed; loopback interface only) to a swarm seed:
time from the Web API's addPeers to the peer showing in torrentPeers with
some progress ("connected"), and to the first piece.

  qb_conn.py --swarm BIN [--swarm-before BIN] [--runs 5] [--size MiB]
"""
import argparse, json, os, shutil, socket, statistics, subprocess, tempfile, time, urllib.request, urllib.parse


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(webui, path, data=None):
    url = "http://127.0.0.1:%d/api/v2/%s" % (webui, path)
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=5) as r:
        return r.read()


def wait_port(port, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def one(binary, torrent, data, infohash, args):
    sport = free_port()
    seed = subprocess.Popen([binary, "seed", torrent, "--data", data, "--listen", "127.0.0.1:%d" % sport, "--dht=false", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    profile = tempfile.mkdtemp(dir=args.dir)
    save = tempfile.mkdtemp(dir=args.dir)
    qport, webui = free_port(), free_port()
    conf = os.path.join(profile, "qBittorrent", "config", "qBittorrent.conf")
    os.makedirs(os.path.dirname(conf))
    with open(conf, "w") as f:
        f.write("[LegalNotice]\nAccepted=true\n\n[BitTorrent]\nSession\\Port=%d\nSession\\InterfaceName=lo\n"
                "Session\\InterfaceAddress=127.0.0.1\nSession\\DHTEnabled=false\nSession\\LSDEnabled=false\n"
                "Session\\PeXEnabled=false\n\n[Preferences]\nConnection\\UPnP=false\nWebUI\\Address=127.0.0.1\n"
                "WebUI\\Port=%d\nWebUI\\LocalHostAuth=false\n" % (qport, webui))
    qb = subprocess.Popen(["qbittorrent-nox", "--profile=" + profile, "--webui-port=%d" % webui, "--torrenting-port=%d" % qport,
                           "--save-path=" + save, "--add-paused=false", torrent], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = {"connected": None, "utp": None, "first_piece": None}
    try:
        wait_port(sport, 10)
        wait_port(webui, 30)
        time.sleep(1)
        t0 = time.monotonic()
        api(webui, "torrents/addPeers", {"hashes": infohash, "peers": "127.0.0.1:%d" % sport})
        while time.monotonic() - t0 < 60 and r["first_piece"] is None:
            now = time.monotonic() - t0
            peers = json.loads(api(webui, "sync/torrentPeers?hash=" + infohash)).get("peers", {})
            for p in peers.values():
                if r["connected"] is None and p.get("client"):
                    r["connected"], r["utp"] = round(now, 3), p.get("connection")
            info = json.loads(api(webui, "torrents/info?hashes=" + infohash))
            if info and info[0].get("completed", 0) > 0:
                r["first_piece"] = round(now, 3)
            time.sleep(0.02)
    finally:
        qb.terminate(); qb.wait()
        seed.terminate(); seed.wait()
        shutil.rmtree(profile); shutil.rmtree(save)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--swarm", required=True)
    ap.add_argument("--swarm-before")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--dir", default="/dev/shm")
    args = ap.parse_args()
    work = tempfile.mkdtemp(dir=args.dir)
    try:
        data = os.path.join(work, "data"); os.mkdir(data)
        with open(os.path.join(data, "content.bin"), "wb") as f:
            f.write(os.urandom(args.size << 20))
        torrent = os.path.join(work, "c.torrent")
        subprocess.run([args.swarm, "create", os.path.join(data, "content.bin"), "-o", torrent, "--piece-length", "256KiB"], check=True, capture_output=True)
        infohash = json.loads(subprocess.run([args.swarm, "info", "--json", torrent], check=True, capture_output=True).stdout)["info_hash"]
        bins = [("swarm", args.swarm)] + ([("swarm(before)", args.swarm_before)] if args.swarm_before else [])
        res = {n: [] for n, _ in bins}
        for _ in range(args.runs):
            for n, b in bins:
                r = one(b, torrent, data, infohash, args); r["pair"] = n + "->qBittorrent"
                print(json.dumps(r), flush=True); res[n].append(r)
        for n, rs in res.items():
            med = {k: statistics.median([r[k] for r in rs if r[k] is not None] or [0]) for k in ("connected", "first_piece")}
            print(json.dumps({"median": n + "->qBittorrent", **med, "connections": [r["utp"] for r in rs]}), flush=True)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
