package peer_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"swarm/peer"
)

var (
	hashA = [20]byte{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	hashB = [20]byte{0xbb, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	idA   = [20]byte([]byte("-SW0001-aaaaaaaaaaaa"))
	idB   = [20]byte([]byte("-SW0001-bbbbbbbbbbbb"))
)

func handshakeBytes(h peer.Handshake) []byte { return peer.AppendHandshake(nil, h) }

func TestNewHandshakeSetsExtensionAndFastBits(t *testing.T) {
	h := peer.NewHandshake(hashA, idA)
	want := peer.Reserved{0, 0, 0, 0, 0, 0x10, 0, 0x04}
	if h.Reserved != want {
		t.Errorf("NewHandshake reserved = %x, want %x", h.Reserved, want)
	}
	if !h.Reserved.Extended() || !h.Reserved.Fast() || h.Reserved.DHT() {
		t.Errorf("reserved %x: Extended=%v Fast=%v DHT=%v, want true true false",
			h.Reserved, h.Reserved.Extended(), h.Reserved.Fast(), h.Reserved.DHT())
	}
}

func TestAppendHandshakeLayout(t *testing.T) {
	b := handshakeBytes(peer.NewHandshake(hashA, idA))
	if len(b) != peer.HandshakeLen {
		t.Fatalf("len = %d, want %d", len(b), peer.HandshakeLen)
	}
	want := append([]byte("\x13BitTorrent protocol\x00\x00\x00\x00\x00\x10\x00\x04"), hashA[:]...)
	want = append(want, idA[:]...)
	if !bytes.Equal(b, want) {
		t.Errorf("AppendHandshake = %q, want %q", b, want)
	}
}

func TestReadHandshake(t *testing.T) {
	good := handshakeBytes(peer.NewHandshake(hashA, idA))
	withFast := peer.NewHandshake(hashA, idA)
	withFast.Reserved[7] |= 0x05
	tests := []struct {
		name    string
		in      []byte
		want    peer.Handshake
		wantErr error
	}{
		{"valid", good, peer.NewHandshake(hashA, idA), nil},
		{"other reserved bits kept", handshakeBytes(withFast), withFast, nil},
		{"empty stream", nil, peer.Handshake{}, io.EOF},
		{"truncated protocol", good[:10], peer.Handshake{}, io.ErrUnexpectedEOF},
		{"truncated peer id", good[:60], peer.Handshake{}, io.ErrUnexpectedEOF},
		{"wrong length byte", append([]byte{18}, good[1:]...), peer.Handshake{}, peer.ErrBadProtocol},
		{"wrong protocol string", append([]byte("\x13BitTorrent protocoX"), good[20:]...), peer.Handshake{}, peer.ErrBadProtocol},
		{"http request", []byte("GET /announce HTTP/1.1\r\n\r\n"), peer.Handshake{}, peer.ErrBadProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := peer.ReadHandshake(bytes.NewReader(tt.in))
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("ReadHandshake(%q) = %v, %v, want %v, %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestReadHandshakeStopsAtItsEnd(t *testing.T) {
	in := append(handshakeBytes(peer.NewHandshake(hashA, idA)), "after"...)
	r := bytes.NewReader(in)
	if _, err := peer.ReadHandshake(r); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "after" {
		t.Errorf("after ReadHandshake the stream holds %q, want %q", rest, "after")
	}
}

// pipe returns the two ends of a net.Pipe, closed when the test ends.
func pipe(t testing.TB) (dialer, acceptor net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

type acceptResult struct {
	theirs peer.Handshake
	err    error
}

// acceptAsync runs Accept on c in a goroutine and returns where its result will arrive.
func acceptAsync(c net.Conn, serve map[[20]byte]peer.Handshake) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		theirs, err := peer.Accept(c, func(h [20]byte) (peer.Handshake, bool) {
			ours, ok := serve[h]
			return ours, ok
		})
		ch <- acceptResult{theirs, err}
	}()
	return ch
}

func TestInitiateAndAcceptExchangeHandshakes(t *testing.T) {
	d, a := pipe(t)
	ours, theirs := peer.NewHandshake(hashA, idA), peer.NewHandshake(hashA, idB)
	done := acceptAsync(a, map[[20]byte]peer.Handshake{hashA: theirs})
	got, err := peer.Initiate(d, ours)
	if err != nil || got != theirs {
		t.Errorf("Initiate = %v, %v, want %v, nil", got, err, theirs)
	}
	res := <-done
	if res.err != nil || res.theirs != ours {
		t.Errorf("Accept = %v, %v, want %v, nil", res.theirs, res.err, ours)
	}
}

func TestAcceptRejectsUnknownInfoHash(t *testing.T) {
	d, a := pipe(t)
	done := acceptAsync(a, map[[20]byte]peer.Handshake{hashB: peer.NewHandshake(hashB, idB)})
	if err := peer.WriteHandshake(d, peer.NewHandshake(hashA, idA)); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if !errors.Is(res.err, peer.ErrUnknownInfoHash) {
		t.Errorf("Accept error = %v, want %v", res.err, peer.ErrUnknownInfoHash)
	}
}

func TestAcceptRejectsLookupWithOtherHash(t *testing.T) {
	d, a := pipe(t)
	done := acceptAsync(a, map[[20]byte]peer.Handshake{hashA: peer.NewHandshake(hashB, idB)})
	if err := peer.WriteHandshake(d, peer.NewHandshake(hashA, idA)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; !errors.Is(res.err, peer.ErrInfoHashMismatch) {
		t.Errorf("Accept error = %v, want %v", res.err, peer.ErrInfoHashMismatch)
	}
}

func TestAcceptRepliesBeforePeerID(t *testing.T) {
	d, a := pipe(t)
	ours := peer.NewHandshake(hashA, idB)
	done := acceptAsync(a, map[[20]byte]peer.Handshake{hashA: ours})
	theirs := handshakeBytes(peer.NewHandshake(hashA, idA))
	// Send everything up to the peer id, then wait for the reply before sending the id,
	// as some clients do.
	if _, err := d.Write(theirs[:48]); err != nil {
		t.Fatal(err)
	}
	got, err := peer.ReadHandshake(d)
	if err != nil || got != ours {
		t.Fatalf("ReadHandshake = %v, %v, want %v, nil", got, err, ours)
	}
	if _, err := d.Write(theirs[48:]); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.err != nil || res.theirs.PeerID != idA {
		t.Errorf("Accept = %v, %v, want peer id %q", res.theirs, res.err, idA)
	}
}

func TestAcceptRejectsBadProtocol(t *testing.T) {
	d, a := pipe(t)
	done := acceptAsync(a, nil)
	d.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if res := <-done; !errors.Is(res.err, peer.ErrBadProtocol) {
		t.Errorf("Accept error = %v, want %v", res.err, peer.ErrBadProtocol)
	}
}

func TestInitiateRejectsInfoHashMismatch(t *testing.T) {
	d, a := pipe(t)
	go func() {
		peer.ReadHandshake(a)
		peer.WriteHandshake(a, peer.NewHandshake(hashB, idB))
	}()
	got, err := peer.Initiate(d, peer.NewHandshake(hashA, idA))
	if !errors.Is(err, peer.ErrInfoHashMismatch) || got.InfoHash != hashB {
		t.Errorf("Initiate = %v, %v, want their handshake and %v", got, err, peer.ErrInfoHashMismatch)
	}
}

func TestInitiateTimesOutOnSilentPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, a := net.Pipe()
		defer d.Close()
		defer a.Close()
		go peer.ReadHandshake(a) // reads ours, never answers
		start := time.Now()
		_, err := peer.Initiate(d, peer.NewHandshake(hashA, idA))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Initiate error = %v, want %v", err, os.ErrDeadlineExceeded)
		}
		if got := time.Since(start); got != peer.HandshakeTimeout {
			t.Errorf("Initiate gave up after %v, want %v", got, peer.HandshakeTimeout)
		}
	})
}

func TestAcceptLeavesFollowingMessagesUnread(t *testing.T) {
	d, a := pipe(t)
	done := acceptAsync(a, map[[20]byte]peer.Handshake{hashA: peer.NewHandshake(hashA, idB)})
	in := handshakeBytes(peer.NewHandshake(hashA, idA))
	in = peer.AppendMessage(in, peer.Message{ID: peer.Have, Index: 42})
	go d.Write(in)
	if _, err := peer.ReadHandshake(d); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.err != nil {
		t.Fatal(res.err)
	}
	var m peer.Message
	if err := peer.NewDecoder(a).Decode(&m); err != nil || !sameMessage(m, peer.Message{ID: peer.Have, Index: 42}) {
		t.Errorf("Decode after Accept = %v, %v, want have 42", m, err)
	}
}
