package piece_test

import (
	"bytes"
	"strings"
	"testing"

	"swarm/piece"
)

func TestBitfieldWireFormat(t *testing.T) {
	tests := []struct {
		name string
		n    int
		set  []int
		want []byte
	}{
		{"empty", 0, nil, []byte{}},
		{"piece 0 is the high bit", 8, []int{0}, []byte{0x80}},
		{"piece 7 is the low bit", 8, []int{7}, []byte{0x01}},
		{"second byte", 10, []int{8, 9}, []byte{0x00, 0xc0}},
		{"spare bits stay zero", 3, []int{0, 1, 2}, []byte{0xe0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bf := piece.NewBitfield(tt.n)
			for _, i := range tt.set {
				bf.Set(i)
			}
			if got := bf.Bytes(); !bytes.Equal(got, tt.want) {
				t.Errorf("Bytes() = %x, want %x", got, tt.want)
			}
			if bf.Count() != len(tt.set) {
				t.Errorf("Count() = %d, want %d", bf.Count(), len(tt.set))
			}
			back, err := piece.FromBytes(tt.want, tt.n)
			if err != nil {
				t.Fatalf("FromBytes(%x, %d): %v", tt.want, tt.n, err)
			}
			if back.String() != bf.String() || back.Count() != bf.Count() {
				t.Errorf("FromBytes(Bytes()) = %v, want %v", back, bf)
			}
		})
	}
}

func TestFromBytesRejects(t *testing.T) {
	tests := []struct {
		name   string
		b      []byte
		n      int
		reason string
	}{
		{"too short", []byte{0xff}, 9, "1 bytes for 9 pieces, want 2"},
		{"too long", []byte{0xff, 0}, 8, "2 bytes for 8 pieces, want 1"},
		{"spare bit set", []byte{0xe1}, 3, "spare bits"},
		{"lowest spare bit set", []byte{0xff, 0x01}, 15, "spare bits"},
		{"negative count", nil, -1, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := piece.FromBytes(tt.b, tt.n)
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("FromBytes(%x, %d) error = %v, want one containing %q", tt.b, tt.n, err, tt.reason)
			}
		})
	}
}

func TestBitfieldSetClearCount(t *testing.T) {
	bf := piece.NewBitfield(20)
	bf.Set(3)
	bf.Set(3)
	bf.Set(19)
	if bf.Count() != 2 || !bf.Has(3) || !bf.Has(19) || bf.Has(4) {
		t.Fatalf("after Set(3), Set(3), Set(19): %v count %d", bf, bf.Count())
	}
	bf.Clear(3)
	bf.Clear(3)
	if bf.Count() != 1 || bf.Has(3) {
		t.Fatalf("after Clear(3) twice: %v count %d", bf, bf.Count())
	}
	if bf.Has(-1) || bf.Has(20) {
		t.Errorf("Has out of range = true, want false")
	}
	bf.SetAll()
	if !bf.Full() || bf.Count() != 20 {
		t.Errorf("SetAll: Count() = %d, Full() = %v", bf.Count(), bf.Full())
	}
	if got := bf.Bytes(); got[2] != 0xf0 {
		t.Errorf("SetAll last byte = %#x, want 0xf0 (spare bits clear)", got[2])
	}
}

func TestBitfieldNext(t *testing.T) {
	bf := piece.NewBitfield(30)
	for _, i := range []int{0, 9, 17, 29} {
		bf.Set(i)
	}
	var got []int
	for i := bf.Next(0); i >= 0; i = bf.Next(i + 1) {
		got = append(got, i)
	}
	if want := []int{0, 9, 17, 29}; !equalInts(got, want) {
		t.Errorf("Next walk = %v, want %v", got, want)
	}
	if got := bf.Next(30); got != -1 {
		t.Errorf("Next(30) = %d, want -1", got)
	}
}

func TestBitfieldSetOutOfRangePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("Set(8) on 8 pieces did not panic")
		}
	}()
	piece.NewBitfield(8).Set(8)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
