package session

// CloseTCPListener closes s's TCP listener and leaves its uTP socket
// open: s is then a peer whose TCP port is firewalled.
func CloseTCPListener(s *Session) error { return s.listener.Close() }
