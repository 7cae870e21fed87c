package mse

import (
	"crypto/rand"
	"crypto/rc4"
	"crypto/sha1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Method is a crypto_provide or crypto_select bit set.
type Method uint32

// The methods of the specification. A Conn whose Method is Plaintext still
// did the key exchange (the handshake is obfuscated), but carries the
// payload in the clear after it.
const (
	Plaintext Method = 1
	RC4       Method = 2
)

func (m Method) String() string {
	switch m {
	case Plaintext:
		return "plaintext"
	case RC4:
		return "rc4"
	case Plaintext | RC4:
		return "plaintext|rc4"
	}
	return fmt.Sprintf("method(%#x)", uint32(m))
}

// Bounds of the specification, and ours.
const (
	keyLen = 96  // a DH public key, big-endian, zero-padded
	maxPad = 512 // PadA..PadD are 0 to 512 bytes
	vcLen  = 8   // the verification constant: 8 zero bytes
	// privLen is the private exponent in bytes: the specification says 160
	// bits are enough, as libtorrent and Transmission use.
	privLen = 20
	// discard is how many bytes of each RC4 keystream are thrown away.
	discard = 1024
	// MaxInitialPayload bounds len(IA) on the receiving side. The field
	// allows 65535; libtorrent and Transmission send the 68-byte BitTorrent
	// handshake there, and a stranger should not make us hold 64 KiB.
	MaxInitialPayload = 1024
	// HandshakeTimeout is the bound we suggest for the whole exchange
	// (callers set it as conn's deadline): 10 s, as libtorrent's
	// handshake_timeout.
	HandshakeTimeout = 10 * time.Second
)

// Errors a handshake can fail with. Test for them with errors.Is.
var (
	// ErrUnknownStreamKey: the peer asked for a torrent (by HASH('req2',
	// SKEY)) that the receiver's find did not know.
	ErrUnknownStreamKey = errors.New("mse: unknown stream key (info hash)")
	// ErrNoSync: the synchronisation pattern was not within the 512 bytes
	// of padding the specification allows.
	ErrNoSync = errors.New("mse: no synchronisation within the padding")
	// ErrNoCommonMethod: crypto_provide and what we allow have no method
	// in common, or crypto_select is not one we provided.
	ErrNoCommonMethod = errors.New("mse: no common crypto method")
)

// prime is the 768-bit prime P of the specification; the generator is 2.
var prime, _ = new(big.Int).SetString(
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
		"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
		"4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563", 16)

var generator = big.NewInt(2)

// newKey returns a random private exponent and its public key 2^x mod P.
func newKey() (x *big.Int, pub [keyLen]byte, err error) {
	var b [privLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, pub, err
	}
	x = new(big.Int).SetBytes(b[:])
	new(big.Int).Exp(generator, x, prime).FillBytes(pub[:])
	return x, pub, nil
}

// secret returns S = Y^x mod P for the peer's public key Y, refusing the
// degenerate keys (0, 1, P-1 and above) that would make S guessable.
func secret(x *big.Int, theirs []byte) ([keyLen]byte, error) {
	var s [keyLen]byte
	y := new(big.Int).SetBytes(theirs)
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(new(big.Int).Sub(prime, big.NewInt(1))) >= 0 {
		return s, errors.New("mse: degenerate Diffie-Hellman key")
	}
	new(big.Int).Exp(y, x, prime).FillBytes(s[:])
	return s, nil
}

// hash is SHA-1 over the concatenation of parts.
func hash(parts ...[]byte) [20]byte {
	h := sha1.New()
	for _, p := range parts {
		h.Write(p)
	}
	return [20]byte(h.Sum(nil))
}

// StreamKeyHash is HASH('req2', SKEY): what an initiator's third message
// carries (xored with HASH('req3', S)) in place of the info hash. A
// receiver's find function is asked for the SKEY that hashes to it.
func StreamKeyHash(skey [20]byte) [20]byte { return hash([]byte("req2"), skey[:]) }

// newCipher is RC4 keyed with HASH(name, S, SKEY), its first 1024 bytes
// dropped.
func newCipher(name string, s *[keyLen]byte, skey [20]byte) *rc4.Cipher {
	k := hash([]byte(name), s[:], skey[:])
	c, _ := rc4.NewCipher(k[:]) // a 20-byte key is always valid
	var drop [discard]byte
	c.XORKeyStream(drop[:], drop[:])
	return c
}

// randomPad returns 0 to maxPad random bytes.
func randomPad() ([]byte, error) {
	var n [2]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, err
	}
	pad := make([]byte, (int(n[0])<<8|int(n[1]))%(maxPad+1))
	_, err := rand.Read(pad)
	return pad, err
}

// single reports whether m is exactly one known method.
func single(m Method) bool { return m == Plaintext || m == RC4 }
