// Package peer speaks the BitTorrent peer wire protocol (BEP 3): the handshake, a message
// codec that bounds every length before allocating, a Conn with blocking reads and writes,
// and the extension protocol handshake (BEP 10). It does not choose pieces, choke, rate-limit,
// verify data or know about torrents beyond raw info hashes and bitfield bytes; that is the
// session's job. It starts no goroutines. A Conn, Decoder or Encoder may have one reader and
// one writer at the same time; each of Decode/ReadMessage and Encode/WriteMessage must be
// called from one goroutine only.
package peer
