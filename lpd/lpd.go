// Package lpd is local peer discovery (BEP 14): BT-SEARCH announces sent to
// and read from a multicast group on the LAN, so peers of the same torrent
// on one network find each other without a tracker or the DHT.
//
// It holds the message codec and the policy that bounds what we send and
// what we take; the caller owns the socket and the torrents. Private
// torrents (BEP 27) must never be announced, nor a loopback listener.
package lpd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Group is BEP 14's IPv4 multicast group and port.
var Group = netip.MustParseAddrPort("239.192.152.143:6771")

// Bounds on what we read and write.
const (
	// MaxDatagram is the longest announce read or written: a UDP payload
	// that fits an Ethernet frame without fragments.
	MaxDatagram = 1400
	// MaxInfoHashes is the most info hashes one announce carries or is
	// read for (each Infohash line is 51 bytes); more are ignored.
	MaxInfoHashes = 20
	// maxCookie bounds the cookie, an opaque token telling our own
	// announces apart when the group loops them back to us.
	maxCookie = 64
)

// Announce is one BT-SEARCH message: a peer listening on Port (at the
// sender's address) has the torrents InfoHashes.
type Announce struct {
	Port       uint16
	InfoHashes [][20]byte
	Cookie     string
}

// Marshal returns the wire form of a, at most MaxInfoHashes of its hashes.
func (a Announce) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "BT-SEARCH * HTTP/1.1\r\nHost: %s\r\nPort: %d\r\n", Group, a.Port)
	for i, ih := range a.InfoHashes {
		if i == MaxInfoHashes {
			break
		}
		fmt.Fprintf(&b, "Infohash: %x\r\n", ih)
	}
	if a.Cookie != "" {
		fmt.Fprintf(&b, "cookie: %s\r\n", a.Cookie)
	}
	b.WriteString("\r\n\r\n")
	return b.Bytes()
}

// Parse reads an announce. It refuses a datagram over MaxDatagram, another
// request line, a missing or zero port and one without info hash; a bad
// Infohash line is skipped, unknown headers are ignored (BEP 14 lets them
// grow), and at most MaxInfoHashes hashes are kept.
func Parse(b []byte) (Announce, error) {
	var a Announce
	if len(b) > MaxDatagram {
		return a, fmt.Errorf("lpd: announce of %d bytes, limit %d", len(b), MaxDatagram)
	}
	lines := bytes.Split(b, []byte("\r\n"))
	if string(lines[0]) != "BT-SEARCH * HTTP/1.1" {
		return a, errors.New("lpd: not a BT-SEARCH announce")
	}
	for _, l := range lines[1:] {
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch string(bytes.ToLower(bytes.TrimSpace(name))) {
		case "port":
			p, err := strconv.ParseUint(string(value), 10, 16)
			if err != nil || p == 0 {
				return a, fmt.Errorf("lpd: bad port %q", value)
			}
			a.Port = uint16(p)
		case "infohash":
			var ih [20]byte
			if len(value) != 40 || len(a.InfoHashes) == MaxInfoHashes {
				continue
			}
			if _, err := hex.Decode(ih[:], value); err != nil {
				continue
			}
			a.InfoHashes = append(a.InfoHashes, ih)
		case "cookie":
			if len(value) <= maxCookie {
				a.Cookie = string(value)
			}
		}
	}
	if a.Port == 0 {
		return a, errors.New("lpd: announce without port")
	}
	if len(a.InfoHashes) == 0 {
		return a, errors.New("lpd: announce without info hash")
	}
	return a, nil
}

// Policy bounds LPD traffic both ways. Its zero value is not usable: use
// NewPolicy. It is not safe for concurrent use.
type Policy struct {
	// SendEvery is the least time between two announces of one torrent:
	// BEP 14 asks for no more than one a minute; libtorrent sends one
	// every 5 minutes.
	SendEvery time.Duration
	// AcceptEvery is the least time between two announces taken from one
	// source address; those in between are dropped unread.
	AcceptEvery time.Duration
	// MaxSources bounds the sources remembered for AcceptEvery; when it
	// is full, sources not heard from for AcceptEvery are forgotten, and
	// if none is, announces from new sources are dropped.
	MaxSources int

	sent    map[[20]byte]time.Time
	sources map[netip.Addr]time.Time
}

// NewPolicy returns the policy swarm uses: one announce per torrent per
// 5 minutes, one taken per source per 10 s, 256 sources.
func NewPolicy() *Policy {
	return &Policy{SendEvery: 5 * time.Minute, AcceptEvery: 10 * time.Second, MaxSources: 256}
}

// Due returns the hashes of ihs whose last announce is SendEvery old (or
// that were never announced), at most MaxInfoHashes, and records them as
// announced now.
func (p *Policy) Due(ihs [][20]byte, now time.Time) [][20]byte {
	if p.sent == nil {
		p.sent = map[[20]byte]time.Time{}
	}
	var due [][20]byte
	for _, ih := range ihs {
		if len(due) == MaxInfoHashes {
			break
		}
		if last, ok := p.sent[ih]; ok && now.Sub(last) < p.SendEvery {
			continue
		}
		p.sent[ih] = now
		due = append(due, ih)
	}
	// Torrents no longer passed in are forgotten once their interval is
	// over, so the map holds at most the torrents of the last SendEvery.
	for ih, last := range p.sent {
		if now.Sub(last) >= p.SendEvery {
			delete(p.sent, ih)
		}
	}
	return due
}

// Accept reports whether an announce from src is to be read now, and
// records it.
func (p *Policy) Accept(src netip.Addr, now time.Time) bool {
	if p.sources == nil {
		p.sources = map[netip.Addr]time.Time{}
	}
	if last, ok := p.sources[src]; ok {
		if now.Sub(last) < p.AcceptEvery {
			return false
		}
		p.sources[src] = now
		return true
	}
	if len(p.sources) >= p.MaxSources {
		for a, last := range p.sources {
			if now.Sub(last) >= p.AcceptEvery {
				delete(p.sources, a)
			}
		}
		if len(p.sources) >= p.MaxSources {
			return false
		}
	}
	p.sources[src] = now
	return true
}
