//go:build !linux

package server

import (
	"context"
	"net"
	"sync"
)

// accept serves ln until it is closed: the lean path with a goroutine per
// connection (on Linux, raw sockets: lean_linux.go).
func (s *Server) accept(_, ctx context.Context, ln net.Listener, h *handoff, conns *sync.WaitGroup) error {
	return s.acceptLean(ctx, ln, h, conns)
}
