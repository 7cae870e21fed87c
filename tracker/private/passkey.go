package private

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
)

// Passkey is a user's secret: 16 random bytes, written as 32 lower-case hex
// characters in announce URLs (/PASSKEY/announce or /announce?passkey=PASSKEY).
type Passkey [16]byte

// NewPasskey returns a passkey from crypto/rand.
func NewPasskey() Passkey {
	var p Passkey
	rand.Read(p[:]) // never fails (crypto/rand documents it)
	return p
}

// String returns the 32 hex characters of p. Use Mask in logs.
func (p Passkey) String() string { return hex.EncodeToString(p[:]) }

// Mask returns a form of p fit for logs: the first 4 hex characters, enough
// to tell users apart when debugging, far too few to announce with.
func (p Passkey) Mask() string { return hex.EncodeToString(p[:2]) + "…" }

var errPasskey = errors.New("passkey must be 32 hex characters")

// ParsePasskey reads 32 hex characters (either case) from a request. It
// does not allocate, since it runs on every announce (the conversion of a
// 32-byte string for hex.Decode stays on the stack).
func ParsePasskey(s string) (Passkey, error) {
	var p Passkey
	if len(s) != 2*len(p) {
		return p, errPasskey
	}
	if _, err := hex.Decode(p[:], []byte(s)); err != nil {
		return Passkey{}, errPasskey
	}
	return p, nil
}
