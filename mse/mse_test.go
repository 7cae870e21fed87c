package mse

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection: net.Pipe has
// no buffer, and both sides of the exchange write before they read.
func tcpPair(t testing.TB) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	// Callers bound the exchange; so do the tests, so none can hang.
	a.SetDeadline(time.Now().Add(HandshakeTimeout))
	b.SetDeadline(time.Now().Add(HandshakeTimeout))
	return a, b
}

var testKey = [20]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

func findTestKey(h [20]byte) ([20]byte, bool) {
	return testKey, h == StreamKeyHash(testKey)
}

type acceptResult struct {
	c   net.Conn
	res Result
	err error
}

func TestHandshakeSelectsAndCarriesData(t *testing.T) {
	tests := []struct {
		name                   string
		provide, allow, prefer Method
		want                   Method
	}{
		{"rc4 only", RC4, RC4, RC4, RC4},
		{"both offered, rc4 preferred", Plaintext | RC4, Plaintext | RC4, RC4, RC4},
		{"both offered, plaintext preferred", Plaintext | RC4, Plaintext | RC4, Plaintext, Plaintext},
		{"plaintext only offered, both allowed", Plaintext, Plaintext | RC4, RC4, Plaintext},
		{"both offered, rc4 required", Plaintext | RC4, RC4, RC4, RC4},
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 kB: several write chunks
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tcpPair(t)
			done := make(chan acceptResult, 1)
			go func() {
				c, res, err := Accept(b, findTestKey, tt.allow, tt.prefer)
				done <- acceptResult{c, res, err}
			}()
			ia := []byte("initial payload")
			ac, m, err := Initiate(a, testKey, tt.provide, ia)
			if err != nil {
				t.Fatalf("Initiate: %v", err)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("Accept: %v", r.err)
			}
			if m != tt.want || r.res.Method != tt.want || r.res.SKey != testKey {
				t.Fatalf("selected %v (initiator) %v (receiver), key %x; want %v", m, r.res.Method, r.res.SKey, tt.want)
			}
			got := make([]byte, len(ia))
			if _, err := io.ReadFull(r.c, got); err != nil || !bytes.Equal(got, ia) {
				t.Fatalf("receiver read initial payload %q, %v; want %q", got, err, ia)
			}
			// Both directions at once, bigger than a write chunk.
			errs := make(chan error, 2)
			go func() { _, err := ac.Write(big); errs <- err }()
			go func() { _, err := r.c.Write(big); errs <- err }()
			for _, c := range []net.Conn{ac, r.c} {
				got := make([]byte, len(big))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, big) {
					t.Fatalf("read %d bytes: %v, equal %v", len(got), err, bytes.Equal(got, big))
				}
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if _, enc := ac.(*Conn); enc != (tt.want == RC4) {
				t.Errorf("initiator's conn is %T with method %v", ac, tt.want)
			}
		})
	}
}

// TestRC4StreamIsNotPlaintext checks the bytes on the wire differ from the
// payload with RC4 and equal it with Plaintext.
func TestRC4StreamIsNotPlaintext(t *testing.T) {
	for _, m := range []Method{RC4, Plaintext} {
		a, b := tcpPair(t)
		done := make(chan acceptResult, 1)
		go func() {
			c, res, err := Accept(b, findTestKey, m, m)
			done <- acceptResult{c, res, err}
		}()
		ac, _, err := Initiate(a, testKey, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r := <-done; r.err != nil {
			t.Fatal(r.err)
		}
		msg := []byte("\x13BitTorrent protocol, in the clear?")
		if _, err := ac.Write(msg); err != nil {
			t.Fatal(err)
		}
		wire := make([]byte, len(msg))
		if _, err := io.ReadFull(b, wire); err != nil { // under the receiver's Conn
			t.Fatal(err)
		}
		if bytes.Equal(wire, msg) != (m == Plaintext) {
			t.Errorf("%v: wire bytes %q for payload %q", m, wire, msg)
		}
	}
}

func TestAcceptRefuses(t *testing.T) {
	other := testKey
	other[0] ^= 0xff
	tests := []struct {
		name    string
		skey    [20]byte
		provide Method
		allow   Method
		want    error
	}{
		{"unknown torrent", other, RC4, RC4, ErrUnknownStreamKey},
		{"plaintext offered, rc4 required", testKey, Plaintext, RC4, ErrNoCommonMethod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tcpPair(t)
			done := make(chan error, 1)
			go func() {
				_, _, err := Accept(b, findTestKey, tt.allow, tt.allow)
				b.Close()
				done <- err
			}()
			_, _, ierr := Initiate(a, tt.skey, tt.provide, nil)
			if err := <-done; !errors.Is(err, tt.want) {
				t.Errorf("Accept: %v, want %v", err, tt.want)
			}
			if ierr == nil {
				t.Error("Initiate succeeded against a receiver that refused")
			}
		})
	}
}

// countingConn counts the bytes read through it.
type countingConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestAcceptBoundsWhatAStrangerSends: a stream of random-looking bytes
// that never carries HASH('req1', S) is refused after 96+512+20 bytes, and
// a silent peer when HandshakeTimeout is up (checked with a shorter wait
// on the deadline Accept sets).
func TestAcceptBoundsWhatAStrangerSends(t *testing.T) {
	a, b := tcpPair(t)
	cb := &countingConn{Conn: b}
	done := make(chan error, 1)
	go func() {
		_, _, err := Accept(cb, findTestKey, RC4, RC4)
		done <- err
	}()
	go io.Copy(io.Discard, a)
	junk := bytes.Repeat([]byte{0xA5}, 4096)
	a.Write(junk) // the receiver stops reading; the rest stays in buffers
	select {
	case err := <-done:
		if !errors.Is(err, ErrNoSync) {
			t.Fatalf("Accept: %v, want ErrNoSync", err)
		}
	case <-time.After(HandshakeTimeout + time.Second):
		t.Fatal("Accept did not return")
	}
	if n, limit := cb.n.Load(), int64(keyLen+maxPad+20); n > limit {
		t.Errorf("read %d bytes, more than %d", n, limit)
	} else {
		t.Logf("read %d bytes of junk before giving up", n)
	}
}

func TestInitiateBoundsTheVCSearch(t *testing.T) {
	a, b := tcpPair(t)
	ca := &countingConn{Conn: a}
	done := make(chan error, 1)
	go func() {
		_, _, err := Initiate(ca, testKey, RC4, nil)
		done <- err
	}()
	go io.Copy(io.Discard, b)
	// A valid-looking key, then junk instead of message 4.
	_, y, _ := newKey()
	b.Write(append(y[:], bytes.Repeat([]byte{0x5A}, 4096)...))
	if err := <-done; !errors.Is(err, ErrNoSync) {
		t.Fatalf("Initiate: %v, want ErrNoSync", err)
	}
	if n, limit := ca.n.Load(), int64(keyLen+maxPad+vcLen); n > limit {
		t.Errorf("read %d bytes, more than %d", n, limit)
	}
}

func TestDegenerateKeyRefused(t *testing.T) {
	x, _, _ := newKey()
	for _, y := range [][]byte{make([]byte, keyLen), append(make([]byte, keyLen-1), 1), prime.Bytes()} {
		if _, err := secret(x, y); err == nil {
			t.Errorf("secret accepted key %x", y[len(y)-4:])
		}
	}
}

// TestSharedSecretAgrees checks the DH arithmetic on its own: both ends
// reach the same S, and keys are 96 bytes under the 768-bit prime.
func TestSharedSecretAgrees(t *testing.T) {
	if prime.BitLen() != 768 {
		t.Fatalf("prime has %d bits", prime.BitLen())
	}
	xa, ya, _ := newKey()
	xb, yb, _ := newKey()
	sa, err1 := secret(xa, yb[:])
	sb, err2 := secret(xb, ya[:])
	if err1 != nil || err2 != nil || sa != sb {
		t.Fatalf("secrets differ: %v %v", err1, err2)
	}
}

func BenchmarkHandshake(b *testing.B) {
	for b.Loop() {
		x, ya, _ := newKey()
		_, yb, _ := newKey()
		secret(x, yb[:])
		_ = ya
	}
}

func BenchmarkRC4Write(b *testing.B) {
	c := &Conn{Conn: discardConn{}, enc: newCipher("keyA", &[keyLen]byte{}, testKey)}
	buf := make([]byte, 16<<10)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		c.Write(buf)
	}
}

type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
