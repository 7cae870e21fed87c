// Package piece holds the piece-level logic of a download: bitfields, the
// geometry of pieces and 16 KiB blocks, SHA-1 verification and the Picker,
// which chooses what to request from whom (rules in NOTES.md).
//
// It does no I/O, never reads the clock and starts no goroutines: time and
// data are the caller's. Bitfield and Picker are not safe for concurrent use;
// the torrent's owner loop calls them. Geometry, Block and Verify are values
// and functions safe anywhere.
package piece
