// Package metainfo reads, writes and builds .torrent files (BEP 3, 12, 19, 27,
// and 47 pad files) and magnet links (BEP 9 URI form).
//
// Parsing is strict: every .torrent is checked byte by byte before it is
// decoded, and errors name the field or the byte offset. The v1 info hash is
// the SHA-1 of the info dictionary exactly as it stands in the file. The
// package does no network I/O; Build reads files and hashes them in parallel.
// All types are plain values, safe to share once built.
package metainfo
