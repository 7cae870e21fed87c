// Package mse is Message Stream Encryption, also called Protocol Encryption
// (MSE/PE, the Vuze/libtorrent/Transmission specification): a 768-bit
// Diffie-Hellman exchange, then RC4 (first 1024 bytes of each stream
// dropped) or plaintext, chosen by crypto_provide/crypto_select. Initiate is
// the dialing side (A), Accept the receiving side (B); both return a net.Conn
// that carries the rest of the stream. It knows torrents only as 20-byte
// stream keys (info hashes) and knows nothing of the BitTorrent handshake
// riding inside. It starts no goroutines; a returned Conn may have one reader
// and one writer at the same time.
package mse
