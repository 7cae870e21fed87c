//go:build !unix

package session

// fdLimit is unknown outside Unix: peers are capped by Config.MaxConns only.
func fdLimit() int { return 0 }
