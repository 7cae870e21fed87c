package rpc

import "time"

// SetClock makes s's limit of wrong passwords read time from now.
func SetClock(s *Server, now func() time.Time) { s.auth.now = now }
