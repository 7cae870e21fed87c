package peer

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// Timing of a connection's liveness (BEP 3 suggests keep-alives every two minutes and
// dropping a peer after a few minutes of silence).
const (
	// KeepAliveInterval is how often the session's writer should send a keep-alive when it
	// has sent nothing else.
	KeepAliveInterval = 2 * time.Minute
	// DefaultIdleTimeout is how long ReadMessage waits for a message when Config.IdleTimeout
	// is zero.
	DefaultIdleTimeout = 3 * time.Minute
	// DefaultWriteTimeout is how long a write may block when Config.WriteTimeout is zero.
	DefaultWriteTimeout = time.Minute
)

// Config tunes a Conn. The zero Config is ready to use.
type Config struct {
	// IdleTimeout is how long ReadMessage waits for the next message before failing with a
	// timeout error; 0 means DefaultIdleTimeout. Messages with unknown ids do not reset it.
	IdleTimeout time.Duration
	// WriteTimeout bounds each WriteMessage or WriteMessages call; 0 means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxBitfieldLen, MaxExtendedLen and NewBlock set the Decoder fields of the same names.
	MaxBitfieldLen int
	MaxExtendedLen int
	NewBlock       func(n int) []byte
}

// Conn is a peer wire connection after the handshake: blocking, message-at-a-time reads and
// writes over a net.Conn, with deadlines and byte counters. One goroutine may read and
// another write at the same time; Close, BytesRead and BytesWritten may be called from any
// goroutine.
type Conn struct {
	nc           net.Conn
	dec          *Decoder
	enc          *Encoder
	idleTimeout  time.Duration
	writeTimeout time.Duration
	read         atomic.Int64 // bytes read from nc, handshake excluded
	written      atomic.Int64 // bytes written to nc, handshake excluded
}

// NewConn wraps nc, on which the handshake is done (Initiate or Accept), and takes ownership
// of it: Close closes nc. It fails on negative timeouts.
//
// If nc is a *net.TCPConn, or a wrapper of one whose reads are the socket's own and that says
// so with a method RawTCP() *net.TCPConn, a fast peer's blocks are read (on Linux) from the
// socket straight into the buffers Config.NewBlock gives.
func NewConn(nc net.Conn, cfg Config) (*Conn, error) {
	if cfg.IdleTimeout < 0 || cfg.WriteTimeout < 0 {
		return nil, errors.New("peer: negative timeout in Config")
	}
	c := &Conn{
		nc:           nc,
		enc:          NewEncoder(nc),
		idleTimeout:  orDefault(cfg.IdleTimeout, DefaultIdleTimeout),
		writeTimeout: orDefault(cfg.WriteTimeout, DefaultWriteTimeout),
	}
	c.dec = NewDecoder(countingReader{nc, &c.read})
	c.dec.MaxBitfieldLen = cfg.MaxBitfieldLen
	c.dec.MaxExtendedLen = cfg.MaxExtendedLen
	c.dec.NewBlock = cfg.NewBlock
	c.dec.vec = newVectorReader(nc, &c.read)
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// ReadMessage blocks until the next message arrives and decodes it into *m, as
// Decoder.Decode does (slices in m are valid until the next ReadMessage). It fails with a
// timeout (a net.Error whose Timeout method reports true) if no message completes within
// the idle timeout. Only one goroutine may call it at a time.
func (c *Conn) ReadMessage(m *Message) error {
	if err := c.nc.SetReadDeadline(time.Now().Add(c.idleTimeout)); err != nil {
		return err
	}
	return c.dec.Decode(m)
}

// SetNumPieces sets the bitfield size limit to what numPieces pieces need, once the piece
// count is known (for a magnet link, after the metadata arrives). Call it from the goroutine
// that calls ReadMessage.
func (c *Conn) SetNumPieces(numPieces int) {
	c.dec.MaxBitfieldLen = max(1, (numPieces+7)/8) // 0 would mean the default
}

// Skipped returns how many messages with unknown ids were discarded, for the session's
// judgement of misbehaving peers. Call it from the goroutine that calls ReadMessage.
func (c *Conn) Skipped() uint64 { return c.dec.Skipped() }

// WriteMessage writes m; a piece block is written without being copied. Only one goroutine
// may write at a time.
func (c *Conn) WriteMessage(m Message) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
		return err
	}
	n, err := c.enc.Encode(m)
	c.written.Add(n)
	return err
}

// WriteMessages writes ms in order, in as few system calls as it can: a writer goroutine that
// drains its queue into a slice should use it. Blocks are not copied.
func (c *Conn) WriteMessages(ms []Message) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
		return err
	}
	n, err := c.enc.EncodeAll(ms)
	c.written.Add(n)
	return err
}

// BytesRead returns the number of bytes read from the connection since NewConn, framing
// included.
func (c *Conn) BytesRead() int64 { return c.read.Load() }

// BytesWritten returns the number of bytes written to the connection since NewConn,
// framing included.
func (c *Conn) BytesWritten() int64 { return c.written.Load() }

// Close closes the underlying connection, which unblocks a pending read or write.
func (c *Conn) Close() error { return c.nc.Close() }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// countingReader counts the bytes read through it into n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	return n, err
}
