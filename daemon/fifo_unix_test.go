//go:build unix

package daemon_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"swarm/daemon"
)

// TestAddRefusesAFIFO: torrent-add with "filename" naming a FIFO (or a
// device) is refused at once. Before, opening it blocked the request, and
// an OS thread, until something wrote to the FIFO: a few thousand such
// requests would reach Go's limit of 10,000 threads and kill the daemon.
func TestAddRefusesAFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.torrent")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	d := newDaemon(t, filepath.Join(dir, "state"), filepath.Join(dir, "dl"), nil)
	done := make(chan error, 1)
	go func() {
		_, err := d.Add(context.Background(), daemon.AddRequest{Source: fifo})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, daemon.ErrBadInput) {
			t.Errorf("Add of a FIFO: %v, want ErrBadInput", err)
		}
	case <-time.After(5 * time.Second):
		// Unblock the open so the goroutine ends, then fail.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		<-done
		t.Error("Add of a FIFO still blocked after 5 s")
	}
	if _, err := d.Add(context.Background(), daemon.AddRequest{Source: "/dev/null"}); !errors.Is(err, daemon.ErrBadInput) {
		t.Errorf("Add of /dev/null: %v, want ErrBadInput", err)
	}
}
