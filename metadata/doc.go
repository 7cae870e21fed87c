// Package metadata assembles a torrent's info dictionary for a magnet link from the
// ut_metadata pieces (BEP 9) peers send over the extension protocol (BEP 10). Its Assembler
// decides which peer to ask for which piece, bounds the memory the sizes peers claim may
// take (a shared budget, one fetch per claimed size at a time), and checks the whole dict
// against the info hash, naming the peer whose dict fails it. It is pure: the session's
// torrent loop owns the connections, sends the requests and passes the time in; the
// package does no I/O, reads no clock and starts no goroutines. It does not serve metadata
// (the session does), nor find peers.
package metadata
