package mse

import (
	"crypto/rc4"
	"net"
)

// Conn is a connection after the handshake: reads first return what the
// handshake read ahead (the initial payload on the receiving side), and
// with RC4 every byte either way is encrypted. One goroutine may read
// while another writes.
type Conn struct {
	net.Conn
	pending  []byte      // decrypted bytes to return before reading more
	enc, dec *rc4.Cipher // nil for Plaintext
	wbuf     []byte      // the writer's scratch buffer
}

// maxChunk bounds the writer's scratch buffer: a longer Write is
// encrypted and sent in pieces of this size.
const maxChunk = 64 << 10

// Read reads and decrypts.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if c.dec != nil && n > 0 {
		c.dec.XORKeyStream(p[:n], p[:n])
	}
	return n, err
}

// Write encrypts p (without changing it) and writes it. After an error the
// stream is out of step with the peer's and the conn must be closed.
func (c *Conn) Write(p []byte) (int, error) {
	if c.enc == nil {
		return c.Conn.Write(p)
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), maxChunk)
		if cap(c.wbuf) < n {
			c.wbuf = make([]byte, n)
		}
		b := c.wbuf[:n]
		c.enc.XORKeyStream(b, p[:n])
		m, err := c.Conn.Write(b)
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// Encrypted reports whether the payload is RC4-encrypted (false after a
// handshake that selected Plaintext).
func (c *Conn) Encrypted() bool { return c.enc != nil }
