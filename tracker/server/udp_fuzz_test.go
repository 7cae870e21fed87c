package server

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"

	"github.com/rs/zerolog"
)

// FuzzUDPDatagram feeds any datagram to a UDP worker of a public tracker, or
// with private set of one with a Hook. With valid set, the
// first 8 bytes are replaced by the connection id the tracker gives the
// sender, so that announces and scrapes reach their parsers. Nothing may
// panic (the worker's recover would count an internal failure), and a reply
// is a well-formed one to the datagram's transaction. Seeds are in
// testdata/fuzz/FuzzUDPDatagram.
func FuzzUDPDatagram(f *testing.F) {
	id := [20]byte{19: 1}
	ann := udpAnn{hash: udpHash, peer: 1, left: 1, numWant: -1, port: 6881}
	f.Add(udpConnectReq(1), false, false)
	f.Add(ann.bytes(), true, false)
	ann.options = []byte{udpOptURLData, 14, '/', 'g', 'o', 'o', 'd', '/', 'a', 'n', 'n', 'o', 'u', 'n', 'c', 'e', 0}
	f.Add(ann.bytes(), true, true)
	scrape := binary.BigEndian.AppendUint64(nil, 0)
	scrape = binary.BigEndian.AppendUint32(scrape, udpScrape)
	scrape = binary.BigEndian.AppendUint32(scrape, 3)
	f.Add(append(scrape, id[:]...), true, false)
	// A public tracker and a private one (a Hook that takes the passkey
	// "good"), each with 70 peers in udpHash's swarm.
	// Error lines only (a panic's): the fuzz target may not use f's log.
	log := zerolog.New(os.Stderr).Level(zerolog.ErrorLevel)
	open := newUDPTest(f, Config{Logger: &log, MaxNumWant: 60, DefaultNumWant: 60})
	closed := newUDPTest(f, Config{Logger: &log, Hook: &passkeyHook{}, MaxNumWant: 60, DefaultNumWant: 60})
	for _, u := range []*udpTest{open, closed} {
		for i := range 70 {
			u.announce(udpAnn{hash: udpHash, peer: byte(i), left: int64(i % 2), port: uint16(100 + i), options: ann.options}, "10.0.0.1:1")
		}
	}
	const from = "192.0.2.1:6881"
	src := netip.MustParseAddrPort(from)
	f.Fuzz(func(t *testing.T, b []byte, valid, private bool) {
		u := open
		if private {
			u = closed
		}
		if valid && len(b) >= 8 {
			withID := binary.BigEndian.AppendUint64(make([]byte, 0, len(b)), u.w.ids.make(src.Addr()))
			b = append(withID, b[8:]...)
		}
		internal := u.s.metrics.failures.WithLabelValues("internal")
		r := u.w.handle(b, src)
		if counterValue(internal) != 0 {
			t.Fatalf("handle(%x) failed internally (a panic?)", b)
		}
		if r == nil {
			return
		}
		if len(r) < 8 || binary.BigEndian.Uint32(r[4:]) != binary.BigEndian.Uint32(b[12:]) {
			t.Fatalf("handle(%x) = %x: not a reply to its transaction", b, r)
		}
		switch action := binary.BigEndian.Uint32(r); action {
		case udpConnect:
			if len(r) != 16 {
				t.Fatalf("connect reply %x", r)
			}
		case udpAnnounce:
			if len(r) < 20 || (len(r)-20)%6 != 0 || len(r) > 20+6*60 {
				t.Fatalf("announce reply of %d bytes to %x", len(r), b)
			}
			req, bad := parseUDPAnnounce(b, src.Addr(), u.s.parse)
			if bad != nil || req.Port == 0 || req.Left < 0 || req.NumWant > 60 || req.Addr.Addr() != src.Addr() {
				t.Fatalf("announce %x answered, parsed as %+v, %v", b, req, bad)
			}
		case udpScrape:
			if (len(r)-8)%12 != 0 || len(r) > 8+12*DefaultMaxScrapeHashes {
				t.Fatalf("scrape reply of %d bytes", len(r))
			}
		case udpError:
			if len(r) == 8 {
				t.Fatalf("error reply without a reason to %x", b)
			}
		default:
			t.Fatalf("reply %x with action %d", r, action)
		}
	})
}
