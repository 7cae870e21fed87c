// Package storage maps a torrent's pieces onto files on disk: reading and
// writing blocks at content offsets, checking existing data (Check) and
// resume records (Resume), so a download survives a restart.
//
// It does no networking and no piece picking. Nothing is ever written outside
// the download folder: paths are re-checked, symbolic links refused. A File
// is safe for concurrent use: blocks are read and written with pread/pwrite,
// and its mutex guards only the handle cache, never I/O.
package storage
