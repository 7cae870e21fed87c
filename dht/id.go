package dht

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/bits"
)

// ID is a 160-bit node id or info hash; the two share one key space.
type ID [20]byte

// String returns the id as 40 lower-case hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads an id from 40 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 40 {
		return id, fmt.Errorf("node id %q: want 40 hex digits, got %d characters", s, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("node id %q: not hex", s)
	}
	return id, nil
}

// RandomID returns an id from crypto/rand.
func RandomID() ID {
	var id ID
	rand.Read(id[:])
	return id
}

// Xor is the Kademlia distance between a and b, an unsigned 160-bit number.
func Xor(a, b ID) ID {
	var d ID
	for i := range d {
		d[i] = a[i] ^ b[i]
	}
	return d
}

// Closer reports whether a is closer to target than b is.
func Closer(target, a, b ID) bool {
	for i := range target {
		da, db := a[i]^target[i], b[i]^target[i]
		if da != db {
			return da < db
		}
	}
	return false
}

// commonPrefix returns how many leading bits a and b share (160 if equal).
func commonPrefix(a, b ID) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return 160
}

// randomWithPrefix returns a random id that shares exactly n leading bits
// with id (n < 160): the first n bits are id's, bit n is flipped, the rest
// random. A lookup of it refreshes the bucket that holds such ids.
func randomWithPrefix(id ID, n int) ID {
	r := RandomID()
	for i := range r {
		switch {
		case (i+1)*8 <= n:
			r[i] = id[i]
		case i*8 < n:
			keep := byte(0xff) << (8 - (n - i*8))
			r[i] = id[i]&keep | r[i]&^keep
		}
	}
	r[n/8] ^= (r[n/8] ^ ^id[n/8]) & (0x80 >> (n % 8))
	return r
}
