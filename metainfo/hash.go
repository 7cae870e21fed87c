package metainfo

import (
	"encoding/base32"
	"encoding/hex"
	"fmt"
)

// Hash is a 20-byte SHA-1 digest: a v1 info hash or a piece hash.
type Hash [20]byte

// String returns the hash as 40 lower-case hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash reads a hash from 40 hex digits or 32 base32 characters (the two
// forms magnet links use).
func ParseHash(s string) (Hash, error) {
	var h Hash
	switch len(s) {
	case 40:
		if _, err := hex.Decode(h[:], []byte(s)); err != nil {
			return h, fmt.Errorf("hash %q: not hex", s)
		}
	case 32:
		b, err := base32.StdEncoding.DecodeString(upper(s))
		if err != nil || len(b) != 20 {
			return h, fmt.Errorf("hash %q: not base32", s)
		}
		copy(h[:], b)
	default:
		return h, fmt.Errorf("hash %q: want 40 hex or 32 base32 characters, got %d", s, len(s))
	}
	return h, nil
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
