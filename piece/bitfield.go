package piece

import (
	"fmt"
	"math/bits"
)

// Bitfield is a fixed-length set of piece indexes. Its wire form (BEP 3) has
// the high bit of the first byte for piece 0 and the spare bits of the last
// byte zero. The zero value is an empty set of length 0.
type Bitfield struct {
	b     []byte
	n     int
	count int
}

// NewBitfield returns an empty bitfield for n pieces. It panics if n < 0.
func NewBitfield(n int) *Bitfield {
	if n < 0 {
		panic(fmt.Sprintf("piece: NewBitfield(%d): negative length", n))
	}
	return &Bitfield{b: make([]byte, (n+7)/8), n: n}
}

// FromBytes parses a bitfield for n pieces from its wire form. It refuses
// input of the wrong length or with spare bits set, as BEP 3 requires.
// The bitfield does not keep b.
func FromBytes(b []byte, n int) (*Bitfield, error) {
	if n < 0 {
		return nil, fmt.Errorf("bitfield: negative piece count %d", n)
	}
	if want := (n + 7) / 8; len(b) != want {
		return nil, fmt.Errorf("bitfield: %d bytes for %d pieces, want %d", len(b), n, want)
	}
	if n%8 != 0 {
		if spare := b[len(b)-1] & (0xff >> (n % 8)); spare != 0 {
			return nil, fmt.Errorf("bitfield: spare bits set in last byte (%#02x) for %d pieces", spare, n)
		}
	}
	bf := &Bitfield{b: append([]byte(nil), b...), n: n}
	for _, x := range bf.b {
		bf.count += bits.OnesCount8(x)
	}
	return bf, nil
}

// Len returns the number of pieces the bitfield describes.
func (bf *Bitfield) Len() int { return bf.n }

// Count returns the number of pieces set.
func (bf *Bitfield) Count() int { return bf.count }

// Full reports whether every piece is set.
func (bf *Bitfield) Full() bool { return bf.count == bf.n }

// Has reports whether piece i is set; it is false for i out of range.
func (bf *Bitfield) Has(i int) bool {
	if uint(i) >= uint(bf.n) {
		return false
	}
	return bf.b[i>>3]&(0x80>>(i&7)) != 0
}

// Set sets piece i. It panics if i is out of range: callers check indexes
// that come from the network against Len first.
func (bf *Bitfield) Set(i int) {
	bf.check(i)
	m := byte(0x80 >> (i & 7))
	if bf.b[i>>3]&m == 0 {
		bf.b[i>>3] |= m
		bf.count++
	}
}

// Clear clears piece i. It panics if i is out of range.
func (bf *Bitfield) Clear(i int) {
	bf.check(i)
	m := byte(0x80 >> (i & 7))
	if bf.b[i>>3]&m != 0 {
		bf.b[i>>3] &^= m
		bf.count--
	}
}

// SetAll sets every piece.
func (bf *Bitfield) SetAll() {
	for i := range bf.b {
		bf.b[i] = 0xff
	}
	if bf.n%8 != 0 {
		bf.b[len(bf.b)-1] = ^byte(0xff >> (bf.n % 8))
	}
	bf.count = bf.n
}

// Bytes returns a copy of the bitfield in wire form.
func (bf *Bitfield) Bytes() []byte { return append([]byte(nil), bf.b...) }

// Clone returns an independent copy.
func (bf *Bitfield) Clone() *Bitfield {
	return &Bitfield{b: append([]byte(nil), bf.b...), n: bf.n, count: bf.count}
}

// Next returns the first piece at index i or later that is set, or -1.
func (bf *Bitfield) Next(i int) int {
	if i < 0 {
		i = 0
	}
	if i >= bf.n {
		return -1
	}
	k := i >> 3
	x := bf.b[k] & (0xff >> (i & 7))
	for x == 0 {
		k++
		if k == len(bf.b) {
			return -1
		}
		x = bf.b[k]
	}
	return k<<3 + bits.LeadingZeros8(x)
}

// String lists the bitfield as 0s and 1s, piece 0 first.
func (bf *Bitfield) String() string {
	s := make([]byte, bf.n)
	for i := range s {
		s[i] = '0'
		if bf.Has(i) {
			s[i] = '1'
		}
	}
	return string(s)
}

func (bf *Bitfield) check(i int) {
	if uint(i) >= uint(bf.n) {
		panic(fmt.Sprintf("piece: bit %d out of range [0,%d)", i, bf.n))
	}
}
