// Package peer speaks the BitTorrent peer wire protocol (BEP 3): the handshake, a message
// codec that bounds every length before allocating, a Conn with blocking reads and writes,
// the extension protocol handshake (BEP 10) and the payloads of ut_metadata (BEP 9) and
// ut_pex (BEP 11). It does not pick pieces, choke, rate-limit or verify data, and knows
// torrents only as raw info hashes and bitfield bytes; the session does the rest. It starts no goroutines. A Conn may have one reader and one writer at the
// same time; a Decoder belongs to one reading goroutine and an Encoder to one writing one.
package peer
