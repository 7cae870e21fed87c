// Package memnet is an in-memory TCP-like network for tests: listeners,
// a dialer and buffered connections with deadlines, half-close and
// addresses, all in one process and without a socket. It exists so that
// tests can run under testing/synctest, where real sockets do not work: a
// goroutine blocked on memnet is durably blocked, and deadlines follow the
// bubble's fake clock.
//
// net.Pipe is not enough: it has no buffer, so a write blocks until the
// other side reads, and two peers that both write before they read (the
// BitTorrent handshake, a bitfield) wait for each other until a deadline.
// A memnet connection buffers BufferSize bytes each way, as a socket's
// buffers do.
//
// A Network and everything made from it must be created inside the bubble
// that uses it (channels made outside a bubble cannot be used inside it).
// All methods are safe to call from any goroutine.
package memnet
