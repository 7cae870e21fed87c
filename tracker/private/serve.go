package private

import (
	"context"
	"fmt"
	"net"

	"swarm/tracker/server"
)

// Serve runs srv, whose Hook is t, on ln (and over UDP on udp, if any: see
// server.Server.Serve) until ctx ends, with t's flush loop (Run) beside it. The loop outlives the server: it stops only after
// the server has answered its last request, then writes what that request
// counted. Serve returns the server's error, or the last write's.
func (t *Tracker) Serve(ctx context.Context, srv *server.Server, ln net.Listener, udp ...*net.UDPConn) error {
	flushCtx, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	flushed := make(chan error, 1)
	go func() { flushed <- t.Run(flushCtx) }()
	serveErr := srv.Serve(ctx, ln, udp...)
	stopFlush()
	if err := <-flushed; err != nil {
		return fmt.Errorf("write the last totals: %w", err)
	}
	return serveErr
}
