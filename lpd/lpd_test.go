package lpd_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"swarm/lpd"
)

func TestAnnounceRoundTrip(t *testing.T) {
	a := lpd.Announce{Port: 6881, InfoHashes: [][20]byte{{0xaa}, {0xbb, 1}}, Cookie: "c00k1e"}
	b := a.Marshal()
	want := "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n" +
		"Infohash: aa00000000000000000000000000000000000000\r\n" +
		"Infohash: bb01000000000000000000000000000000000000\r\n" +
		"cookie: c00k1e\r\n\r\n\r\n"
	if string(b) != want {
		t.Fatalf("Marshal = %q, want %q", b, want)
	}
	got, err := lpd.Parse(b)
	if err != nil || got.Port != a.Port || got.Cookie != a.Cookie || len(got.InfoHashes) != 2 || got.InfoHashes[1] != a.InfoHashes[1] {
		t.Fatalf("Parse(Marshal) = %+v, %v, want %+v", got, err, a)
	}
}

// TestParseLibtorrentAnnounce reads an announce as libtorrent 2.0 sends it
// (upper-case hex, header names as BEP 14 writes them).
func TestParseLibtorrentAnnounce(t *testing.T) {
	msg := "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\n" +
		"Infohash: 0123456789ABCDEF0123456789ABCDEF01234567\r\ncookie: 3f2a\r\n\r\n\r\n"
	a, err := lpd.Parse([]byte(msg))
	want := [20]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67}
	if err != nil || a.Port != 51413 || len(a.InfoHashes) != 1 || a.InfoHashes[0] != want || a.Cookie != "3f2a" {
		t.Fatalf("Parse = %+v, %v", a, err)
	}
}

func TestParseRefusesAndBounds(t *testing.T) {
	ih := "Infohash: " + strings.Repeat("ab", 20) + "\r\n"
	head := "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n"
	for _, tt := range []struct{ name, msg string }{
		{"not BT-SEARCH", "M-SEARCH * HTTP/1.1\r\nPort: 1\r\n" + ih},
		{"no port", "BT-SEARCH * HTTP/1.1\r\n" + ih},
		{"port zero", "BT-SEARCH * HTTP/1.1\r\nPort: 0\r\n" + ih},
		{"port over 16 bits", "BT-SEARCH * HTTP/1.1\r\nPort: 65536\r\n" + ih},
		{"no info hash", head},
		{"only bad info hashes", head + "Infohash: xyz\r\nInfohash: " + strings.Repeat("zz", 20) + "\r\n"},
		{"over the datagram limit", head + ih + strings.Repeat("X-Pad: y\r\n", 150)},
	} {
		if a, err := lpd.Parse([]byte(tt.msg)); err == nil {
			t.Errorf("%s: Parse = %+v, nil, want an error", tt.name, a)
		}
	}
	// More hashes than MaxInfoHashes: the first ones kept, and a marshalled
	// announce never carries more either.
	var many [][20]byte
	for i := range 30 {
		many = append(many, [20]byte{byte(i)})
	}
	b := lpd.Announce{Port: 1, InfoHashes: many}.Marshal()
	if len(b) > lpd.MaxDatagram {
		t.Errorf("Marshal of 30 hashes is %d bytes, over %d", len(b), lpd.MaxDatagram)
	}
	a, err := lpd.Parse([]byte(head + strings.Repeat(ih, 25)))
	if err != nil || len(a.InfoHashes) != lpd.MaxInfoHashes {
		t.Errorf("Parse of 25 hashes kept %d, %v, want %d", len(a.InfoHashes), err, lpd.MaxInfoHashes)
	}
}

func TestPolicyBoundsSending(t *testing.T) {
	p := lpd.NewPolicy()
	t0 := time.Unix(1000, 0)
	a, b := [20]byte{1}, [20]byte{2}
	if due := p.Due([][20]byte{a, b}, t0); len(due) != 2 {
		t.Fatalf("first Due = %d hashes, want 2", len(due))
	}
	if due := p.Due([][20]byte{a, b}, t0.Add(time.Minute)); len(due) != 0 {
		t.Fatalf("Due after 1 min = %v, want none (every %v)", due, p.SendEvery)
	}
	if due := p.Due([][20]byte{a}, t0.Add(p.SendEvery)); len(due) != 1 || due[0] != a {
		t.Fatalf("Due after %v = %v, want [a]", p.SendEvery, due)
	}
	var many [][20]byte
	for i := range 50 {
		many = append(many, [20]byte{0xff, byte(i)})
	}
	if due := p.Due(many, t0.Add(2*p.SendEvery)); len(due) != lpd.MaxInfoHashes {
		t.Fatalf("Due of 50 = %d, want %d (one datagram)", len(due), lpd.MaxInfoHashes)
	}
}

func TestPolicyBoundsAccepting(t *testing.T) {
	p := lpd.NewPolicy()
	t0 := time.Unix(1000, 0)
	src := netip.MustParseAddr("192.168.1.7")
	if !p.Accept(src, t0) || p.Accept(src, t0.Add(time.Second)) || !p.Accept(src, t0.Add(p.AcceptEvery)) {
		t.Fatalf("one source: want accepted, dropped within %v, accepted after", p.AcceptEvery)
	}
	// A flood of sources: no more than MaxSources remembered and taken
	// within AcceptEvery; once it is over, new ones are taken again.
	taken := 0
	for i := range 1000 {
		if p.Accept(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), t0.Add(p.AcceptEvery)) {
			taken++
		}
	}
	if taken != p.MaxSources-1 {
		t.Errorf("took %d of 1000 sources within %v, want %d", taken, p.AcceptEvery, p.MaxSources-1)
	}
	if !p.Accept(netip.MustParseAddr("10.9.9.9"), t0.Add(3*p.AcceptEvery)) {
		t.Error("a new source was refused after the flood's interval")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(lpd.Announce{Port: 6881, InfoHashes: [][20]byte{{1}}, Cookie: "x"}.Marshal())
	f.Add([]byte("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: zz\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := lpd.Parse(b)
		if err != nil {
			return
		}
		if a.Port == 0 || len(a.InfoHashes) == 0 || len(a.InfoHashes) > lpd.MaxInfoHashes {
			t.Fatalf("Parse(%q) = %+v, outside its bounds", b, a)
		}
		// What we read, we write back the same.
		again, err := lpd.Parse(a.Marshal())
		if err != nil || again.Port != a.Port || !bytes.Equal(flat(again.InfoHashes), flat(a.InfoHashes)) {
			t.Fatalf("round trip of %+v = %+v, %v", a, again, err)
		}
	})
}

func flat(ihs [][20]byte) []byte { return []byte(fmt.Sprint(ihs)) }
