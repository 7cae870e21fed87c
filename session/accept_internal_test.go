package session

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// scriptedListener fails Accept with the errors of its script in turn and
// hands out a connection where the script holds nil; past the script it
// blocks until closed. It records when each Accept was called.
type scriptedListener struct {
	mu     sync.Mutex // guards script and calls
	script []error
	calls  []time.Time
	closed chan struct{}
	once   sync.Once
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.calls = append(l.calls, time.Now())
	var step error
	more := len(l.script) > 0
	if more {
		step, l.script = l.script[0], l.script[1:]
	}
	l.mu.Unlock()
	if !more {
		<-l.closed
		return nil, net.ErrClosed
	}
	if step != nil {
		return nil, step
	}
	a, b := net.Pipe()
	b.Close()
	return a, nil
}

func (l *scriptedListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *scriptedListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func emfile() error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
}

// TestAcceptLoopRetriesWithBackoff: Accept failing with EMFILE (the fd
// table full) and ECONNABORTED is retried after 5 ms, doubling to 1 s, and
// the back-off starts over after a success; each burst of failures logs one
// warning and one recovery line; the loop ends only when the listener is
// closed (issue 13).
func TestAcceptLoopRetriesWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var script []error
		for range 10 {
			script = append(script, emfile())
		}
		script = append(script, nil) // a connection
		script = append(script, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ECONNABORTED)},
			emfile(), emfile(), nil)
		ln := &scriptedListener{script: script, closed: make(chan struct{})}
		var logs bytes.Buffer
		log := zerolog.New(&logs)
		handled := 0
		done := make(chan struct{})
		go func() {
			acceptLoop(t.Context(), ln, log, func(c net.Conn) { handled++; c.Close() })
			close(done)
		}()
		time.Sleep(10 * time.Second) // the back-offs add up to 3.31 s
		synctest.Wait()              // blocked in Accept past the script
		select {
		case <-done:
			t.Fatal("acceptLoop returned while the listener was open")
		default:
		}
		ms := time.Millisecond
		want := []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second, time.Second,
			0, // after the connection, Accept is called again at once
			5 * ms, 10 * ms, 20 * ms, 0}
		ln.mu.Lock()
		calls := ln.calls
		ln.mu.Unlock()
		if len(calls) != len(want)+1 {
			t.Fatalf("Accept called %d times, want %d", len(calls), len(want)+1)
		}
		for i, w := range want {
			if got := calls[i+1].Sub(calls[i]); got != w {
				t.Errorf("wait before Accept %d = %v, want %v", i+2, got, w)
			}
		}
		if handled != 2 {
			t.Errorf("handled %d connections, want 2", handled)
		}
		out := logs.String()
		if n := strings.Count(out, "accept failed"); n != 2 {
			t.Errorf("logged %d accept failures for 2 bursts of them, want 2:\n%s", n, out)
		}
		if n := strings.Count(out, "accepting again"); n != 2 {
			t.Errorf("logged %d recoveries, want 2:\n%s", n, out)
		}
		if !strings.Contains(out, `"failures":10`) || !strings.Contains(out, "too many open files") {
			t.Errorf("log lacks the first burst's count or its error:\n%s", out)
		}
		ln.Close()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("acceptLoop still running after the listener was closed")
		}
	})
}

// TestAcceptLoopEndsWhileBackingOff: a context cancelled during a back-off
// ends the loop without waiting for the next Accept.
func TestAcceptLoopEndsWhileBackingOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var script []error
		for range 100 {
			script = append(script, emfile())
		}
		ln := &scriptedListener{script: script, closed: make(chan struct{})}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			acceptLoop(ctx, ln, zerolog.Nop(), func(c net.Conn) { c.Close() })
			close(done)
		}()
		time.Sleep(500 * time.Millisecond)
		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("acceptLoop still running after its context ended")
		}
	})
}

// TestConnBudget: the peer budget is the descriptor limit less the
// reserves, never under minConns, and Config.MaxConns caps it.
func TestConnBudget(t *testing.T) {
	tests := []struct {
		name                   string
		fds, reserve, maxConns int
		want                   int
	}{
		{"ulimit 256, one single-file torrent", 256, 5, 0, 256 - fdReserve - 5},
		{"ulimit 1024, MaxConns lower", 1024, 5, 100, 100},
		{"ulimit 256, MaxConns higher", 256, 5, 1000, 256 - fdReserve - 5},
		{"tiny ulimit", 40, 68, 0, minConns},
		{"unknown limit, no MaxConns", 0, 5, 0, int(^uint(0) >> 1)},
		{"unknown limit, MaxConns", 0, 5, 7, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := connBudget(tt.fds, tt.reserve, tt.maxConns); got != tt.want {
				t.Errorf("connBudget(%d, %d, %d) = %d, want %d", tt.fds, tt.reserve, tt.maxConns, got, tt.want)
			}
		})
	}
}
