package peer_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"swarm/peer"
)

// cloneMessage copies the slices of m, which a Decoder reuses.
func cloneMessage(m peer.Message) peer.Message {
	m.Bitfield = bytes.Clone(m.Bitfield)
	m.Block = bytes.Clone(m.Block)
	m.Payload = bytes.Clone(m.Payload)
	return m
}

func FuzzDecode(f *testing.F) {
	var stream []byte
	for _, tt := range allMessages() {
		m := tt.m
		if len(m.Block) > 64 {
			m.Block = m.Block[:64] // keep seeds small so the fuzzer's minimizer stays fast
		}
		f.Add(peer.AppendMessage(nil, m))
		stream = peer.AppendMessage(stream, m)
	}
	f.Add(stream)
	f.Add(frame(1<<31, peer.Piece))
	f.Add(frame(13, 16, make([]byte, 12)...))
	f.Add(frame(3, peer.Bitfield, 0xff))

	const maxBitfield, maxExtended = 64, 1024
	f.Fuzz(func(t *testing.T, data []byte) {
		d := peer.NewDecoder(bytes.NewReader(data))
		d.MaxBitfieldLen, d.MaxExtendedLen = maxBitfield, maxExtended
		if len(data)%2 == 1 {
			d.NewBlock = func(n int) []byte { return make([]byte, n) }
		}
		var got []peer.Message
		for {
			var m peer.Message
			err := d.Decode(&m)
			if err != nil {
				var le *peer.LengthError
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &le) {
					t.Fatalf("Decode(%q) = %v, want EOF, unexpected EOF or *LengthError", data, err)
				}
				break
			}
			if !m.KeepAlive && !m.ID.Known() {
				t.Fatalf("Decode(%q) returned a message with unknown id: %v", data, m)
			}
			if len(m.Block) > peer.BlockSize || len(m.Bitfield) > maxBitfield || len(m.Payload) > maxExtended {
				t.Fatalf("Decode(%q) = %v, beyond the limits", data, m)
			}
			got = append(got, cloneMessage(m))
		}

		// Every decoded message re-encodes to bytes that decode to the same message.
		var enc []byte
		for _, m := range got {
			enc = peer.AppendMessage(enc, m)
		}
		d2 := peer.NewDecoder(bytes.NewReader(enc))
		d2.MaxBitfieldLen, d2.MaxExtendedLen = maxBitfield, maxExtended
		for i, want := range got {
			var back peer.Message
			if err := d2.Decode(&back); err != nil || !sameMessage(back, want) {
				t.Fatalf("message %d of %q: Decode(AppendMessage(%v)) = %v, %v, want the same message", i, data, want, back, err)
			}
		}
		var extra peer.Message
		if err := d2.Decode(&extra); err != io.EOF {
			t.Fatalf("re-encoding of %q decodes to more messages than it came from: %v, %v", data, extra, err)
		}
	})
}

// byteConn is a net.Conn that reads from a fixed byte slice and discards what is written.
type byteConn struct {
	r       *bytes.Reader
	written bytes.Buffer
}

func (c *byteConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *byteConn) Write(p []byte) (int, error)      { return c.written.Write(p) }
func (c *byteConn) Close() error                     { return nil }
func (c *byteConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *byteConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *byteConn) SetDeadline(time.Time) error      { return nil }
func (c *byteConn) SetReadDeadline(time.Time) error  { return nil }
func (c *byteConn) SetWriteDeadline(time.Time) error { return nil }

func FuzzHandshake(f *testing.F) {
	good := handshakeBytes(peer.NewHandshake(hashA, idA))
	f.Add(good)
	f.Add(append(bytes.Clone(good), frame(5, peer.Have, 0, 0, 0, 1)...))
	f.Add(good[:40])
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		h, err := peer.ReadHandshake(r)
		if err != nil {
			if !errors.Is(err, peer.ErrBadProtocol) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("ReadHandshake(%q) = %v, want ErrBadProtocol, EOF or unexpected EOF", data, err)
			}
		} else {
			if got := peer.AppendHandshake(nil, h); !bytes.Equal(got, data[:peer.HandshakeLen]) {
				t.Fatalf("AppendHandshake(ReadHandshake(%q)) = %q, want the input", data, got)
			}
			if rest := r.Len(); rest != len(data)-peer.HandshakeLen {
				t.Fatalf("ReadHandshake(%q) left %d bytes, want %d", data, rest, len(data)-peer.HandshakeLen)
			}
		}

		// Accept must agree with ReadHandshake and never read past the handshake.
		c := &byteConn{r: bytes.NewReader(data)}
		ours := peer.NewHandshake([20]byte{}, idB)
		theirs, aerr := peer.Accept(c, func(ih [20]byte) (peer.Handshake, bool) {
			ours.InfoHash = ih
			return ours, true
		})
		if (aerr == nil) != (err == nil) || theirs != h {
			t.Fatalf("Accept(%q) = %v, %v; ReadHandshake = %v, %v", data, theirs, aerr, h, err)
		}
		if aerr == nil && c.r.Len() != len(data)-peer.HandshakeLen {
			t.Fatalf("Accept(%q) read past the handshake", data)
		}
	})
}

func FuzzExtensionHandshake(f *testing.F) {
	f.Add([]byte("d1:md11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei31235e1:pi6881e4:reqqi250e1:v9:swarm 0.16:yourip4:\x0a\x00\x00\x01e"))
	f.Add([]byte("d1:md6:ut_pexi0eee"))
	f.Add([]byte("d1:mde1:vi5ee"))
	f.Add([]byte("d1:xlld1:ai1eeee1:mdee"))

	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := peer.ParseExtensionHandshake(data)
		if err != nil {
			return
		}
		b, err := h.Marshal()
		if err != nil {
			t.Fatalf("Marshal(ParseExtensionHandshake(%q)) failed: %v", data, err)
		}
		back, err := peer.ParseExtensionHandshake(b)
		if h.M == nil {
			h.M = map[string]uint8{}
		}
		if back.M == nil {
			back.M = map[string]uint8{}
		}
		if err != nil || !sameExtensionHandshake(back, h) {
			t.Fatalf("ParseExtensionHandshake(Marshal(%+v)) = %+v, %v, want the same", h, back, err)
		}
	})
}
