package session

import (
	"context"
	"net"
	"time"
)

// CloseTCPListener closes s's TCP listener and leaves its uTP socket
// open: s is then a peer whose TCP port is firewalled.
func CloseTCPListener(s *Session) error { return s.listener.Close() }

// ServeLPD runs local peer discovery on conn, announcing to group, as
// runLPD does on the multicast group (tests use unicast on loopback).
func ServeLPD(s *Session, ctx context.Context, conn *net.UDPConn, group *net.UDPAddr, port uint16, cookie string) {
	s.serveLPD(ctx, conn, group, port, cookie)
}

// SetWebSeedTimeout sets the limit of one web seed fetch of t; call it
// before the torrent runs.
func SetWebSeedTimeout(t *Torrent, d time.Duration) { t.webTimeout = d }

// SetHeldLimit sets how many bytes of blocks of incomplete pieces t holds
// in memory before it spills a piece to storage; call it before the
// torrent runs.
func SetHeldLimit(t *Torrent, n int64) { t.held.limit = n }

// SetSessionHeldLimit sets how many bytes of blocks of incomplete pieces
// all of s's torrents hold in memory before one spills a piece to storage;
// call it before the torrents run.
func SetSessionHeldLimit(s *Session, n int64) { s.heldLimit = n }

// HeldBytes is what s's torrents hold of incomplete pieces.
func HeldBytes(s *Session) int64 { return s.held.Load() }
