package session

import "time"

// CloseTCPListener closes s's TCP listener and leaves its uTP socket
// open: s is then a peer whose TCP port is firewalled.
func CloseTCPListener(s *Session) error { return s.listener.Close() }

// SetWebSeedTimeout sets the limit of one web seed fetch of t; call it
// before the torrent runs.
func SetWebSeedTimeout(t *Torrent, d time.Duration) { t.webTimeout = d }
