package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"net/netip"
	"time"
)

// connIDPeriod is how often the UDP connection id of an address changes. An
// id is accepted in the period it was made and the next, so for at least
// one period (BEP 15's minute, when a client may use it) and at most two.
const connIDPeriod = time.Minute

// connIDs makes and checks UDP connection ids (BEP 15) without keeping
// anything per client: an id is the first 8 bytes of HMAC-SHA256 of the
// period number and the client's IP under the server's secret key, so that
// only a client that received the connect reply at that IP can know it
// (which stops announces with a forged source address), and the secret
// in effect changes every period. A connIDs is used by one goroutine.
type connIDs struct {
	mac hash.Hash
	now func() time.Time
	msg [4 + 16]byte // period, IP
	sum [sha256.Size]byte
}

func newConnIDs(key []byte, now func() time.Time) *connIDs {
	return &connIDs{mac: hmac.New(sha256.New, key), now: now}
}

func (c *connIDs) period() uint32 {
	return uint32(c.now().Unix() / int64(connIDPeriod/time.Second))
}

func (c *connIDs) id(period uint32, ip netip.Addr) uint64 {
	binary.BigEndian.PutUint32(c.msg[:4], period)
	*(*[16]byte)(c.msg[4:]) = ip.Unmap().As16()
	c.mac.Reset()
	c.mac.Write(c.msg[:])
	return binary.BigEndian.Uint64(c.mac.Sum(c.sum[:0]))
}

// make returns the connection id of ip for now.
func (c *connIDs) make(ip netip.Addr) uint64 { return c.id(c.period(), ip) }

// valid reports whether id is one that make returned for ip in this period
// or the last.
func (c *connIDs) valid(id uint64, ip netip.Addr) bool {
	p := c.period()
	return id == c.id(p, ip) || id == c.id(p-1, ip)
}
