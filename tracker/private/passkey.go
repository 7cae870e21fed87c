package private

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
)

// Passkey is a user's secret: 16 random bytes, written as 32 lower-case hex
// characters in announce URLs (/PASSKEY/announce).
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

// ParsePasskey reads 32 hex characters (either case) from a request path. It
// does not allocate, since it runs on every announce.
func ParsePasskey(s string) (Passkey, error) {
	var p Passkey
	if len(s) != 2*len(p) {
		return p, errPasskey
	}
	for i := range p {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return Passkey{}, errPasskey
		}
		p[i] = hi<<4 | lo
	}
	return p, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
