#!/usr/bin/python3
"""Print what libtorrent reads from a .torrent, as JSON: v1 info hash, name,
and files (path relative to the torrent's folder, size, padding flag)."""
import json, sys
import libtorrent as lt

ti = lt.torrent_info(sys.argv[1])
fs = ti.files()
files = []
for i in range(fs.num_files()):
    path = fs.file_path(i)
    files.append({"path": path, "size": fs.file_size(i),
                  "pad": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)})
print(json.dumps({"info_hash": str(ti.info_hashes().v1), "name": ti.name(),
                  "pieces": ti.num_pieces(), "piece_length": ti.piece_length(),
                  "files": files}))
