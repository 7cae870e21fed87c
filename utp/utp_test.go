package utp

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

func listen(t *testing.T) *Socket {
	t.Helper()
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func addrOf(s *Socket) netip.AddrPort { return s.Addr().(*net.UDPAddr).AddrPort() }

// pair dials from a to b and returns both ends.
func pair(t *testing.T, a, b *Socket) (dialed, accepted net.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := b.Accept()
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	c, err := a.Dial(ctx, addrOf(b))
	if err != nil {
		t.Fatal(err)
	}
	return c, <-got
}

// TestTransfer sends 8 MiB each way at once over one connection, then
// closes one end: the other reads everything, then EOF.
func TestTransfer(t *testing.T) {
	a, b := listen(t), listen(t)
	ca, cb := pair(t, a, b)
	const size = 8 << 20
	data := make([]byte, size)
	rand.Read(data)
	errs := make(chan error, 2)
	for _, c := range []net.Conn{ca, cb} {
		go func() {
			_, err := c.Write(data)
			errs <- err
		}()
	}
	for _, c := range []net.Conn{ca, cb} {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("data differs")
		}
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ca.Write([]byte("tail"))
	ca.Close()
	cb.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(cb)
	if err != nil || string(rest) != "tail" {
		t.Fatalf("after the peer closed: %q, %v; want tail, EOF", rest, err)
	}
}

// TestDialNobody: a SYN to a port where nobody speaks uTP fails after its
// tries, or when the context ends.
func TestDialNobody(t *testing.T) {
	a := listen(t)
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := a.Dial(ctx, pc.LocalAddr().(*net.UDPAddr).AddrPort()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial to a silent port: %v, want the context's deadline", err)
	}
}

// TestReadDeadline: Read honours its deadline as a net.Conn must.
func TestReadDeadline(t *testing.T) {
	a, b := listen(t), listen(t)
	ca, _ := pair(t, a, b)
	ca.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := ca.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
}

// TestReset: closing the socket under a connection ends the peer's reads
// once its packets are refused.
func TestSocketClose(t *testing.T) {
	a, b := listen(t), listen(t)
	ca, _ := pair(t, a, b)
	b.Close()
	if _, err := ca.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	ca.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ca.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a connection whose peer is gone succeeded")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(appendPacket(nil, header{typ: stData, connID: 7, seq: 3, ack: 2}, []byte("hi")))
	f.Add(appendPacket(nil, header{typ: stState, sack: []byte{1, 0, 0, 0}}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, payload, err := parse(b)
		if err != nil {
			return
		}
		// What parses writes back to something that parses the same.
		h2, payload2, err := parse(appendPacket(nil, h, payload))
		if err != nil || h2.typ != h.typ || h2.seq != h.seq || h2.ack != h.ack || !bytes.Equal(payload, payload2) || !bytes.Equal(h.sack, h2.sack) {
			t.Fatalf("round trip: %+v %q -> %+v %q %v", h, payload, h2, payload2, err)
		}
	})
}

// TestFinTakesNoNumber: after our FIN, our STATEs carry the FIN's sequence
// number, not the next one. libtorrent ignores packets numbered past a FIN,
// so with FIN+1 it never saw its own FIN acknowledged and timed the
// connection out 2.5 s later instead of reading EOF.
func TestFinTakesNoNumber(t *testing.T) {
	s := listen(t)
	raw, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	to := addrOf(s)
	send := func(h header) {
		if _, err := raw.WriteToUDPAddrPort(appendPacket(nil, h, nil), to); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(typ uint8) header {
		buf := make([]byte, 2048)
		for {
			n, _, err := raw.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("waiting for a packet of type %d: %v", typ, err)
			}
			h, _, err := parse(buf[:n])
			if err == nil && h.typ == typ {
				return h
			}
		}
	}
	const id, seq = 1000, 500 // we receive on 1000, send on 1001
	send(header{typ: stSyn, connID: id, seq: seq, wnd: recvWindow})
	state := recv(stState)
	send(header{typ: stState, connID: id + 1, seq: seq + 1, ack: state.seq - 1, wnd: recvWindow})
	c, err := s.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	fin := recv(stFin)
	if fin.seq != state.seq {
		t.Fatalf("FIN seq %d, want %d (the STATE's: the next number)", fin.seq, state.seq)
	}
	send(header{typ: stFin, connID: id + 1, seq: seq + 1, ack: fin.seq, wnd: recvWindow})
	if ack := recv(stState); ack.seq != fin.seq || ack.ack != seq+1 {
		t.Fatalf("STATE after our FIN: seq %d ack %d, want seq %d (the FIN's) ack %d", ack.seq, ack.ack, fin.seq, seq+1)
	}
}

// TestSynAloneIsNotAccepted: a SYN's source can be forged, so Accept gets
// a connection only once the peer acknowledges our STATE's random number;
// unproven ones sit in a bounded table.
func TestSynAloneIsNotAccepted(t *testing.T) {
	s := listen(t)
	raw, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	to := addrOf(s)
	send := func(h header) {
		if _, err := raw.WriteToUDPAddrPort(appendPacket(nil, h, []byte("x")), to); err != nil {
			t.Fatal(err)
		}
	}
	acceptSoon := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := s.AcceptContext(ctx)
		return err == nil
	}
	for i := range 100 {
		send(header{typ: stSyn, connID: uint16(2000 + 2*i), seq: 1, wnd: recvWindow})
	}
	send(header{typ: stSyn, connID: 1000, seq: 500, wnd: recvWindow})
	var state header
	buf := make([]byte, 2048)
	for state.connID != 1000 {
		n, _, err := raw.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("waiting for the STATE to our last SYN: %v", err)
		}
		state, _, _ = parse(buf[:n])
	}
	if acceptSoon() {
		t.Fatal("a bare SYN was handed to Accept")
	}
	s.mu.Lock()
	half, conns := len(s.half), len(s.conns)
	s.mu.Unlock()
	if half > maxHalfOpenPerIP || conns > maxHalfOpenPerIP {
		t.Fatalf("101 SYNs from one address hold %d half-open, %d connections; want at most %d", half, conns, maxHalfOpenPerIP)
	}
	send(header{typ: stData, connID: 1001, seq: 501, ack: state.seq + 100, wnd: recvWindow})
	if acceptSoon() {
		t.Fatal("DATA with a wrong ack was accepted")
	}
	send(header{typ: stData, connID: 1001, seq: 501, ack: state.seq - 1, wnd: recvWindow})
	if !acceptSoon() {
		t.Fatal("DATA acknowledging our STATE did not complete the handshake")
	}
}

// TestEarlyDataFreedOnClose: out-of-order data counts against the socket
// and is dropped, and no longer stored, once the connection is closed.
func TestEarlyDataFreedOnClose(t *testing.T) {
	s := listen(t)
	raw, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	to := addrOf(s)
	payload := make([]byte, 1000)
	send := func(h header) {
		if _, err := raw.WriteToUDPAddrPort(appendPacket(nil, h, payload), to); err != nil {
			t.Fatal(err)
		}
	}
	send(header{typ: stSyn, connID: 1000, seq: 500, wnd: recvWindow})
	buf := make([]byte, 2048)
	n, _, err := raw.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	state, _, _ := parse(buf[:n])
	send(header{typ: stState, connID: 1001, seq: 501, ack: state.seq - 1, wnd: recvWindow})
	c, err := s.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sendEarly := func() {
		for i := range 20 {
			send(header{typ: stData, connID: 1001, seq: uint16(503 + i), ack: state.seq - 1, wnd: recvWindow})
		}
		// one more in-order-looking STATE round trip so the packets above are handled
		send(header{typ: stState, connID: 1001, seq: 501, ack: state.seq - 1, wnd: recvWindow})
		for {
			n, _, err := raw.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatal(err)
			}
			if h, _, _ := parse(buf[:n]); h.typ == stState && len(h.sack) == 0 || s.early.Load() >= 20*1000 {
				return
			}
		}
	}
	sendEarly()
	if got := s.early.Load(); got != 20*1000 {
		t.Fatalf("socket holds %d early bytes, want %d", got, 20*1000)
	}
	c.Close()
	if got := s.early.Load(); got != 0 {
		t.Fatalf("after Close the socket still holds %d early bytes", got)
	}
	for i := range 20 {
		send(header{typ: stData, connID: 1001, seq: uint16(503 + i), ack: state.seq - 1, wnd: recvWindow})
	}
	time.Sleep(100 * time.Millisecond)
	if got := s.early.Load(); got != 0 {
		t.Fatalf("a closed connection stored %d early bytes", got)
	}
}

// TestLongSackIgnored: a SACK mask longer than any window is ignored
// rather than walked bit by bit over every unacked packet.
func TestLongSackIgnored(t *testing.T) {
	a, b := listen(t), listen(t)
	ca, _ := pair(t, a, b)
	c := ca.(*Conn)
	c.mu.Lock()
	defer c.mu.Unlock()
	base := c.seq
	for range 10 {
		c.unacked = append(c.unacked, &outPacket{typ: stData, seq: c.seq, payload: []byte("x")})
		c.seq++
	}
	long := bytes.Repeat([]byte{0xff}, 255)
	c.acked(header{typ: stState, ack: base - 2, sack: long})
	for _, p := range c.unacked {
		if p.sacked {
			t.Fatalf("seq %d marked held by a %d-byte SACK", p.seq, len(long))
		}
	}
	c.acked(header{typ: stState, ack: base - 2, sack: []byte{0x05, 0, 0, 0}})
	for i, p := range c.unacked {
		if want := i == 0 || i == 2; p.sacked != want {
			t.Fatalf("seq %d sacked %v, want %v", p.seq, p.sacked, want)
		}
	}
}

// TestBlindResetIgnored: a RESET must ack a number we sent recently.
func TestBlindResetIgnored(t *testing.T) {
	a, b := listen(t), listen(t)
	ca, _ := pair(t, a, b)
	c := ca.(*Conn)
	c.packet(header{typ: stReset, ack: c.seq + 1000}, nil)
	if c.err != nil {
		t.Fatalf("a RESET acking seq+1000 killed the connection: %v", c.err)
	}
	c.packet(header{typ: stReset, ack: c.seq - 1}, nil)
	if c.err != errReset {
		t.Fatalf("a RESET acking our last packet left err %v", c.err)
	}
}
