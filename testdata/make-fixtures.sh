#!/usr/bin/env bash
# Regenerates the .torrent fixtures in this folder with real tools (Debian
# packages mktorrent, transmission-cli, python3-libtorrent). The fixtures are
# committed; run this only to refresh them. Content is made deterministically.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Deterministic content: an album folder with nested files, a zero-length
# file, and a last piece shorter than the rest; and one single file.
mkdir -p "$work/album/sub/deep"
python3 - "$work" <<'PY'
import hashlib, sys, os
root = sys.argv[1]
def blob(name, n):
    out, i = b"", 0
    while len(out) < n:
        out += hashlib.sha256(f"{name}:{i}".encode()).digest(); i += 1
    return out[:n]
for path, n in [("album/a.txt", 100), ("album/sub/b.bin", 40000),
                ("album/sub/deep/c.bin", 70001), ("album/z.txt", 1),
                ("album/empty", 0), ("single.bin", 200000)]:
    with open(os.path.join(root, path), "wb") as f:
        f.write(blob(path, n))
PY

cd "$work"
mktorrent -l 15 -a http://127.0.0.1:6969/announce -o "$here/mktorrent-single.torrent" single.bin >/dev/null
mktorrent -l 16 -a http://t1.example/announce,http://t1b.example/announce -a http://t2.example/announce \
  -w http://seed.example/album -c "made by mktorrent" -p -o "$here/mktorrent-multi.torrent" album >/dev/null
transmission-create -s 16 -t http://127.0.0.1:6969/announce -c "made by transmission" \
  -o "$here/transmission-multi.torrent" album >/dev/null
/usr/bin/python3 - "$here" <<'PY'
import sys, libtorrent as lt
here = sys.argv[1]
for name, flags in [("libtorrent-v1", lt.create_torrent.v1_only), ("libtorrent-hybrid", 0)]:
    fs = lt.file_storage()
    lt.add_files(fs, "album")
    t = lt.create_torrent(fs, 16384, flags=flags)
    t.add_tracker("http://127.0.0.1:6969/announce")
    t.set_creator("libtorrent")
    lt.set_piece_hashes(t, ".")
    open(f"{here}/{name}.torrent", "wb").write(lt.bencode(t.generate()))
PY
echo "fixtures written to $here"
