package memnet_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"swarm/internal/memnet"
)

// pair returns two connected ends: c dialled, s accepted.
func pair(t *testing.T, n *memnet.Network) (c, s net.Conn) {
	t.Helper()
	l, err := n.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	c, err = n.Dial(t.Context(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

func TestBothEndsWriteBeforeReading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s := pair(t, &memnet.Network{})
		// net.Pipe would block both writes until a deadline.
		for _, conn := range []net.Conn{c, s} {
			if _, err := conn.Write([]byte("hello")); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		for _, conn := range []net.Conn{c, s} {
			b := make([]byte, 5)
			if _, err := io.ReadFull(conn, b); err != nil || string(b) != "hello" {
				t.Fatalf("ReadFull = %q, %v; want hello", b, err)
			}
		}
	})
}

func TestAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &memnet.Network{}
		l, err := n.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if _, err := n.Listen("tcp", l.Addr().String()); !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("second Listen on %s: %v, want EADDRINUSE", l.Addr(), err)
		}
		c, err := n.DialFrom(t.Context(), netip.MustParseAddr("127.0.0.2"), "tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, ok := l.Addr().(*net.TCPAddr); !ok {
			t.Errorf("listener Addr is %T, want *net.TCPAddr", l.Addr())
		}
		if s.RemoteAddr().String() != c.LocalAddr().String() || c.RemoteAddr().String() != l.Addr().String() {
			t.Errorf("addresses: dialled %v→%v, accepted %v→%v", c.LocalAddr(), c.RemoteAddr(), s.LocalAddr(), s.RemoteAddr())
		}
		if ip := c.LocalAddr().(*net.TCPAddr).IP.String(); ip != "127.0.0.2" {
			t.Errorf("DialFrom 127.0.0.2: local address %v", c.LocalAddr())
		}
	})
}

func TestDialErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &memnet.Network{}
		if _, err := n.Dial(t.Context(), "tcp", "127.0.0.1:9"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("Dial with no listener: %v, want ECONNREFUSED", err)
		}
		if _, err := n.Dial(t.Context(), "udp", "127.0.0.1:9"); err == nil {
			t.Error("Dial udp: no error")
		}
		l, _ := n.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
		}
		if _, err := n.Dial(t.Context(), "tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("Dial a closed listener: %v, want ECONNREFUSED", err)
		}
		// A full backlog makes a dial wait, here until its context ends.
		l, _ = n.Listen("tcp", "127.0.0.1:0")
		defer l.Close()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		var err error
		for i := 0; i < 1000 && err == nil; i++ {
			var c net.Conn
			if c, err = n.Dial(ctx, "tcp", l.Addr().String()); err == nil {
				defer c.Close()
			}
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Dial past the backlog: %v, want the context's deadline", err)
		}
	})
}

func TestDeadlinesFollowTheBubbleClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s := pair(t, &memnet.Network{BufferSize: 10})
		start := time.Now()
		c.SetReadDeadline(start.Add(time.Hour))
		_, err := c.Read(make([]byte, 1))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read past the deadline: %v", err)
		}
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Errorf("Read error %v is not a net.Error timeout", err)
		}
		if d := time.Since(start); d != time.Hour {
			t.Errorf("Read timed out after %v, want 1h", d)
		}
		// A deadline moved later, or cleared, lets Read wait again.
		c.SetReadDeadline(time.Now().Add(time.Minute))
		go func() {
			time.Sleep(30 * time.Second)
			s.Write([]byte("x"))
		}()
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Errorf("Read after the deadline was moved: %v", err)
		}
		c.SetReadDeadline(time.Time{})
		// A write past the buffer blocks until the deadline, having
		// written what fit.
		c.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := c.Write(make([]byte, 25))
		if n != 10 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Write of 25 bytes into a 10-byte buffer = %d, %v; want 10 and a timeout", n, err)
		}
		// A reader makes room and a blocked write goes on.
		c.SetWriteDeadline(time.Time{})
		done := make(chan error)
		go func() {
			_, err := c.Write(make([]byte, 15))
			done <- err
		}()
		got, err := io.ReadAll(io.LimitReader(s, 25))
		if err != nil || len(got) != 25 {
			t.Errorf("read %d bytes, %v; want 25", len(got), err)
		}
		if err := <-done; err != nil {
			t.Errorf("Write that waited for room: %v", err)
		}
		// A deadline in the past fails at once.
		c.SetDeadline(time.Now().Add(-time.Second))
		if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Write past the deadline: %v", err)
		}
	})
}

func TestCloseAndCloseWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &memnet.Network{}
		c, s := pair(t, n)
		c.Write([]byte("last words"))
		c.(interface{ CloseWrite() error }).CloseWrite()
		got, err := io.ReadAll(s)
		if err != nil || string(got) != "last words" {
			t.Errorf("ReadAll after CloseWrite = %q, %v", got, err)
		}
		if _, err := s.Write([]byte("reply")); err != nil {
			t.Errorf("Write back after the other end's CloseWrite: %v", err)
		}
		b := make([]byte, 5)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "reply" {
			t.Errorf("read after CloseWrite = %q, %v", b, err)
		}

		c, s = pair(t, n)
		// A reader blocked when its own end is closed returns.
		done := make(chan error)
		go func() {
			_, err := s.Read(make([]byte, 1))
			done <- err
		}()
		synctest.Wait()
		s.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read on a conn closed meanwhile: %v, want net.ErrClosed", err)
		}
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("Read after the other end closed: %v, want io.EOF", err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("Write after the other end closed: %v, want EPIPE", err)
		}
		if err := s.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v", err)
		}
	})
}

// TestManyBytes copies a few MiB through a small buffer in both directions
// at once, byte for byte.
func TestManyBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s := pair(t, &memnet.Network{BufferSize: 1000})
		data := bytes.Repeat([]byte("0123456789abcdefghij"), 100_000)
		echoed := make(chan []byte)
		go func() {
			b, _ := io.ReadAll(c)
			echoed <- b
		}()
		go func() {
			io.Copy(s, s) // echo back until c's CloseWrite
			s.(interface{ CloseWrite() error }).CloseWrite()
		}()
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		c.(interface{ CloseWrite() error }).CloseWrite()
		if got := <-echoed; !bytes.Equal(got, data) {
			t.Errorf("echoed %d bytes, not the %d written", len(got), len(data))
		}
	})
}
