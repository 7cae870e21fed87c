package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Serve answers the RPC on ln at Path (and below it, where
// transmission-remote asks) and page, behind the RPC's Host check and auth
// (Guard), at every other path, until ctx is done or serving fails; then it
// gives requests in flight 2 s to finish. At most DefaultMaxConns
// connections are open at once (LimitListener).
func (s *Server) Serve(ctx context.Context, ln net.Listener, page http.Handler) error {
	ln = LimitListener(ln, DefaultMaxConns)
	mux := http.NewServeMux()
	mux.Handle(Path, s)
	mux.Handle(Path+"/", s)
	mux.Handle("/", s.Guard(page))
	// Timeouts bound what a slow or stuck client holds: a request (a 48 MiB
	// torrent-add at most) is read within a minute.
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	hs.Shutdown(sctx)
	cancel()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("rpc server: %w", err)
	}
	return nil
}
