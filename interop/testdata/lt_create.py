#!/usr/bin/python3
"""Make a torrent with libtorrent: lt_create.py CONTENT OUT PIECE_LEN v1|hybrid"""
import os, sys
import libtorrent as lt

content, out, piece_len, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fs = lt.file_storage()
lt.add_files(fs, content)
flags = lt.create_torrent.v1_only if kind == "v1" else 0
t = lt.create_torrent(fs, piece_len, flags=flags)
t.add_tracker("http://127.0.0.1:6969/announce")
lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(content)))
open(out, "wb").write(lt.bencode(t.generate()))
