#!/usr/bin/python3
"""libtorrent side of bench/transfer: a seeder or a leecher in its own process.

  lt_pair.py seed  --torrent T --data DIR  --port P [--timeout S]
      Seeds T from DIR with lt.high_performance_seed() plus the loopback
      settings of /work/shared/INTEROP.md. Prints {"ready": true, ...} once the
      data is checked and the torrent is seeding, then seeds until its stdin
      closes (or the timeout passes) and prints its own figures.

  lt_pair.py leech --torrent T --save DIR --peer-port P [--timeout S]
      Downloads T into DIR (which must be empty, so nothing is found and
      skipped) with default settings plus the loopback settings, connecting to
      127.0.0.1:P (--preset high_performance_seed uses that preset instead). Times from add_torrent until the torrent is seeding and
      prints one JSON line.

--encrypt (either mode) requires MSE/PE with RC4 (out_enc_policy and
in_enc_policy forced, allowed_enc_level rc4), as bench/transfer --encrypt.

Run it with Debian's /usr/bin/python3, which has the libtorrent module.
"""

import argparse
import json
import os
import resource
import sys
import time

import libtorrent as lt

# lt_bench.py is next to this script in the bench's work folder, and in
# bench/internal/ltpy when the script is run from the repository.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "internal", "ltpy"))
from lt_bench import loopback  # noqa: E402


ENCRYPT = False  # set from --encrypt


def with_loopback(settings, port):
    settings.update(loopback(port))
    if ENCRYPT:
        settings.update({
            "out_enc_policy": int(lt.enc_policy.forced), "in_enc_policy": int(lt.enc_policy.forced),
            "allowed_enc_level": int(lt.enc_level.rc4), "prefer_rc4": True,
        })
    settings["alert_mask"] = lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
    return settings


def cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def maxrss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def add(ses, torrent, save):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save
    return ses.add_torrent(atp)


def errors_in(ses):
    out = []
    for a in ses.pop_alerts():
        if a.category() & lt.alert.category_t.error_notification:
            out.append(a.message())
    return out


def seed(args):
    ses = lt.session(with_loopback(lt.high_performance_seed(), args.port))
    h = add(ses, args.torrent, args.data)
    deadline = time.monotonic() + args.timeout
    errs = []
    while not h.status().is_seeding:
        if time.monotonic() > deadline:
            emit({"ready": False, "error": "not seeding after %gs" % args.timeout, "alerts": errs[-5:],
                  "state": str(h.status().state)})
            return 1
        ses.wait_for_alert(50)
        errs += errors_in(ses)
    emit({"ready": True, "port": args.port, "cpu_s": cpu_s(), "maxrss_kib": maxrss_kib()})
    # Seed until the benchmark closes our stdin (or the timeout, as a backstop).
    import select
    while time.monotonic() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], 1.0)
        if r and not sys.stdin.buffer.read1(4096):
            break
        errors_in(ses)
    st = h.status()
    emit({"done": True, "uploaded": st.total_payload_upload, "cpu_s": cpu_s(), "maxrss_kib": maxrss_kib()})
    return 0


def leech(args):
    if os.path.exists(args.save) and os.listdir(args.save):
        emit({"error": "save dir %s is not empty" % args.save})
        return 1
    os.makedirs(args.save, exist_ok=True)
    base = lt.high_performance_seed() if args.preset == "high_performance_seed" else lt.default_settings()
    ses = lt.session(with_loopback(base, 0))
    cpu0 = cpu_s()
    t0 = time.monotonic()
    h = add(ses, args.torrent, args.save)
    peer = ("127.0.0.1", args.peer_port)
    h.connect_peer(peer)
    deadline = t0 + args.timeout
    last_connect = t0
    errs = []
    finished = False
    while True:
        now = time.monotonic()
        if now > deadline:
            break
        ses.wait_for_alert(20)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_finished_alert):
                finished = True
            elif a.category() & lt.alert.category_t.error_notification:
                errs.append(a.message())
        st = h.status()
        if finished or st.is_seeding:
            break
        # connect_peer before the torrent is ready may be dropped: repeat it
        # while no peer is connected.
        if st.num_peers == 0 and now - last_connect > 1.0:
            h.connect_peer(peer)
            last_connect = now
    t1 = time.monotonic()
    cpu1 = cpu_s()
    st = h.status()
    out = {
        "wall_s": t1 - t0,
        "cpu_window_s": cpu1 - cpu0,
        "maxrss_kib": maxrss_kib(),
        "is_seeding": bool(st.is_seeding),
        "total_payload_download": st.total_payload_download,
        "total_wanted": st.total_wanted,
        "errors": errs[-5:],
    }
    if not st.is_seeding:
        out["error"] = "not seeding after %gs (state %s, progress %.3f)" % (args.timeout, st.state, st.progress)
    emit(out)
    return 0 if st.is_seeding else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--torrent", required=True)
    s.add_argument("--data", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--timeout", type=float, default=600)
    s.add_argument("--encrypt", action="store_true")
    g = sub.add_parser("leech")
    g.add_argument("--torrent", required=True)
    g.add_argument("--save", required=True)
    g.add_argument("--peer-port", type=int, required=True)
    g.add_argument("--timeout", type=float, default=300)
    g.add_argument("--preset", choices=["default", "high_performance_seed"], default="default")
    g.add_argument("--encrypt", action="store_true")
    args = ap.parse_args()
    global ENCRYPT
    ENCRYPT = args.encrypt
    return seed(args) if args.mode == "seed" else leech(args)


if __name__ == "__main__":
    sys.exit(main())
