package mse

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzAccept drives the receiving side with an initiator that does the key
// exchange honestly (so the fuzzer gets past the synchronisation) and then
// sends what the fuzz input says: data[0] scales PadA (up to 765 bytes,
// past the 512 allowed), data[1] bit 0 sends a wrong stream key hash, and
// the rest is the plaintext of the encrypted part (VC, crypto_provide,
// PadC, IA, payload), encrypted with the right key. Whatever comes in,
// Accept must not panic, and on success the initial payload it hands on
// must be the one the input carried.
func FuzzAccept(f *testing.F) {
	valid := func(provide Method, padC int, ia []byte) []byte {
		b := make([]byte, vcLen)
		b = binary.BigEndian.AppendUint32(b, uint32(provide))
		b = binary.BigEndian.AppendUint16(b, uint16(padC))
		b = append(b, make([]byte, padC)...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(ia)))
		return append(b, ia...)
	}
	hs := append([]byte("\x13BitTorrent protocol"), make([]byte, 48)...)
	f.Add(append([]byte{0, 0}, valid(RC4, 0, hs)...))
	f.Add(append([]byte{100, 0}, valid(Plaintext|RC4, 512, hs)...))
	f.Add(append([]byte{171, 0}, valid(Plaintext, 3, nil)...)) // PadA 513
	f.Add(append([]byte{5, 1}, valid(RC4, 0, hs)...))
	f.Add(append([]byte{0, 0}, valid(RC4, 513, nil)...))
	f.Add(append([]byte{0, 0}, valid(RC4, 0, make([]byte, MaxInitialPayload+1))...))
	f.Add([]byte{0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		padA := make([]byte, int(data[0])*3)
		wrongKey := data[1]&1 != 0
		body := bytes.Clone(data[2:])

		b := newFuzzConn()
		peerWrites := make(chan struct{})
		go func() {
			defer close(peerWrites)
			defer b.in.Close() // the stream ends after what the input says
			x, ya, _ := newKey()
			if _, err := b.in.Write(append(ya[:], padA...)); err != nil {
				return
			}
			var yb []byte
			select {
			case yb = <-b.key:
			case <-b.gone:
				return
			}
			s, err := secret(x, yb)
			if err != nil {
				return
			}
			skey := testKey
			if wrongKey {
				skey[0] ^= 1
			}
			req1 := hash([]byte("req1"), s[:])
			req2 := StreamKeyHash(skey)
			req3 := hash([]byte("req3"), s[:])
			msg := append([]byte{}, req1[:]...)
			for i := range req2 {
				msg = append(msg, req2[i]^req3[i])
			}
			enc := newCipher("keyA", &s, skey)
			ct := make([]byte, len(body))
			enc.XORKeyStream(ct, body)
			b.in.Write(append(msg, ct...))
		}()
		c, res, err := Accept(b, findTestKey, Plaintext|RC4, RC4)
		if err == nil {
			// The input must have been well formed where Accept looked.
			if len(padA) > maxPad || wrongKey || len(body) < vcLen+4+2 || !bytes.Equal(body[:vcLen], make([]byte, vcLen)) {
				t.Fatalf("accepted a malformed exchange (PadA %d, wrong key %v)", len(padA), wrongKey)
			}
			provide := Method(binary.BigEndian.Uint32(body[vcLen:]))
			if !single(res.Method) || res.Method&provide == 0 || res.SKey != testKey {
				t.Fatalf("selected %v for provide %v, key %x", res.Method, provide, res.SKey)
			}
			padC := int(binary.BigEndian.Uint16(body[vcLen+4:]))
			off := vcLen + 4 + 2 + padC
			iaLen := int(binary.BigEndian.Uint16(body[off:]))
			want := body[off+2 : off+2+iaLen]
			got := make([]byte, iaLen)
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("initial payload %x, %v; want %x", got, err, want)
			}
		}
		b.Close()
		<-peerWrites
	})
}

// fuzzConn is the receiver's end of a fuzz exchange: it reads what the
// initiator goroutine writes to in (EOF when it is done), and hands the
// first 96 bytes written to it (the key) on key. Writes never block.
type fuzzConn struct {
	net.Conn // nil: only the methods below are used
	r        *io.PipeReader
	in       *io.PipeWriter
	key      chan []byte
	gone     chan struct{}
	out      []byte
}

func newFuzzConn() *fuzzConn {
	r, w := io.Pipe()
	return &fuzzConn{r: r, in: w, key: make(chan []byte, 1), gone: make(chan struct{})}
}

func (c *fuzzConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *fuzzConn) Write(p []byte) (int, error) {
	had := len(c.out)
	c.out = append(c.out, p...)
	if had < keyLen && len(c.out) >= keyLen {
		c.key <- bytes.Clone(c.out[:keyLen])
	}
	return len(p), nil
}

func (c *fuzzConn) Close() error {
	close(c.gone)
	return c.r.Close()
}

func (c *fuzzConn) SetDeadline(time.Time) error { return nil }
