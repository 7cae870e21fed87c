package peer_test

import (
	"bytes"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"swarm/peer"
)

// samePex compares two pex messages, reading nil flags as zero flags.
func samePex(a, b peer.PexMessage) bool {
	flags := func(f []byte, n int) []byte {
		if f == nil {
			return make([]byte, n)
		}
		return f
	}
	return slices.Equal(a.Added, b.Added) && slices.Equal(a.Dropped, b.Dropped) &&
		slices.Equal(a.Added6, b.Added6) && slices.Equal(a.Dropped6, b.Dropped6) &&
		bytes.Equal(flags(a.AddedFlags, len(a.Added)), flags(b.AddedFlags, len(b.Added))) &&
		bytes.Equal(flags(a.Added6Flags, len(a.Added6)), flags(b.Added6Flags, len(b.Added6)))
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestPexMessageMarshal(t *testing.T) {
	tests := []struct {
		name string
		m    peer.PexMessage
		want string
	}{
		{"empty", peer.PexMessage{}, "d5:added0:7:added.f0:7:dropped0:e"},
		{"one added, flags given", peer.PexMessage{Added: []netip.AddrPort{ap("127.0.0.1:6881")}, AddedFlags: []byte{peer.PexReachable | peer.PexSeed}},
			"d5:added6:\x7f\x00\x00\x01\x1a\xe17:added.f1:\x127:dropped0:e"},
		{"flags default to zero", peer.PexMessage{Added: []netip.AddrPort{ap("10.0.0.2:1"), ap("10.0.0.3:65535")}},
			"d5:added12:\x0a\x00\x00\x02\x00\x01\x0a\x00\x00\x03\xff\xff7:added.f2:\x00\x007:dropped0:e"},
		{"dropped", peer.PexMessage{Dropped: []netip.AddrPort{ap("192.0.2.7:51413")}},
			"d5:added0:7:added.f0:7:dropped6:\xc0\x00\x02\x07\xc8\xd5e"},
		{"ipv6", peer.PexMessage{Added6: []netip.AddrPort{ap("[2001:db8::1]:6881")}, Added6Flags: []byte{peer.PexUTP}, Dropped6: []netip.AddrPort{ap("[::1]:80")}},
			"d5:added0:7:added.f0:6:added618:\x20\x01\x0d\xb8" + strings.Repeat("\x00", 11) + "\x01\x1a\xe18:added6.f1:\x04" +
				"7:dropped0:8:dropped618:" + strings.Repeat("\x00", 15) + "\x01\x00\x50e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.Marshal()
			if err != nil || string(got) != tt.want {
				t.Fatalf("Marshal() = %q, %v, want %q", got, err, tt.want)
			}
			back, err := peer.ParsePexMessage(got)
			if err != nil || !samePex(back, tt.m) {
				t.Errorf("ParsePexMessage(%q) = %+v, %v, want %+v", got, back, err, tt.m)
			}
		})
	}
}

func TestPexMessageMarshalRefusesImpossible(t *testing.T) {
	many := make([]netip.AddrPort, peer.MaxPexEntries+1)
	for i := range many {
		many[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 6881)
	}
	tests := []struct {
		name string
		m    peer.PexMessage
	}{
		{"ipv6 in added", peer.PexMessage{Added: []netip.AddrPort{ap("[2001:db8::1]:1")}}},
		{"mapped ipv4 in added", peer.PexMessage{Added: []netip.AddrPort{ap("[::ffff:10.0.0.1]:1")}}},
		{"ipv4 in dropped6", peer.PexMessage{Dropped6: []netip.AddrPort{ap("10.0.0.1:1")}}},
		{"zero address", peer.PexMessage{Dropped: []netip.AddrPort{{}}}},
		{"zoned ipv6", peer.PexMessage{Added6: []netip.AddrPort{ap("[fe80::1%eth0]:1")}}},
		{"flags of the wrong length", peer.PexMessage{Added: []netip.AddrPort{ap("10.0.0.1:1")}, AddedFlags: []byte{0, 0}}},
		{"flags without entries", peer.PexMessage{Added6Flags: []byte{0}}},
		{"too many entries", peer.PexMessage{Added: many}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.m.Marshal(); err == nil {
				t.Errorf("Marshal(%+v) = %q, want an error", tt.m, b)
			}
		})
	}
}

// TestParsePexMessageRealWorld parses messages as real clients send them.
func TestParsePexMessageRealWorld(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    peer.PexMessage
	}{
		{
			// libtorrent 2.0's first message (send_ut_peer_list): all six keys, the
			// dropped ones empty, one peer that is a seed.
			"libtorrent full list",
			"d5:added6:\x7f\x00\x00\x01\xa4\x107:added.f1:\x026:added60:8:added6.f0:7:dropped0:8:dropped60:e",
			peer.PexMessage{Added: []netip.AddrPort{ap("127.0.0.1:42000")}, AddedFlags: []byte{peer.PexSeed}},
		},
		{
			// libtorrent's diff: one new peer, one gone.
			"libtorrent diff",
			"d5:added6:\x7f\x00\x00\x01\xa4\x117:added.f1:\x006:added60:8:added6.f0:7:dropped6:\x7f\x00\x00\x01\xa4\x108:dropped60:e",
			peer.PexMessage{Added: []netip.AddrPort{ap("127.0.0.1:42001")}, AddedFlags: []byte{0},
				Dropped: []netip.AddrPort{ap("127.0.0.1:42000")}},
		},
		{
			// Older clients leave out added.f; some send only the keys they fill.
			"no flags",
			"d5:added6:\xc0\x00\x02\x01\x1a\xe1e",
			peer.PexMessage{Added: []netip.AddrPort{ap("192.0.2.1:6881")}},
		},
		{
			"unknown keys ignored",
			"d5:added0:1:xli1ei2ee7:dropped0:e",
			peer.PexMessage{},
		},
		{"empty dict", "de", peer.PexMessage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := peer.ParsePexMessage([]byte(tt.payload))
			if err != nil || !samePex(got, tt.want) {
				t.Fatalf("ParsePexMessage(%q) = %+v, %v, want %+v", tt.payload, got, err, tt.want)
			}
			if tt.want.AddedFlags == nil && got.AddedFlags != nil {
				t.Errorf("ParsePexMessage(%q) flags = %v, want nil", tt.payload, got.AddedFlags)
			}
		})
	}
}

func TestParsePexMessageRejectsMalformed(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    string // in the error
	}{
		{"empty", "", "not a dict"},
		{"list", "le", "not a dict"},
		{"added of 7 bytes", "d5:added7:1234567e", "added of 7 bytes"},
		{"dropped6 of 6 bytes", "d8:dropped66:123456e", "dropped6 of 6 bytes"},
		{"flags too short", "d5:added12:1234561234567:added.f1:\x00e", "added.f of 1 bytes for 2 entries"},
		{"flags too long", "d5:added6:1234567:added.f2:\x00\x00e", "added.f of 2 bytes for 1 entries"},
		{"added an integer", "d5:addedi5ee", "parse pex message"},
		{"string beyond the payload", "d5:added99999:x", "parse pex message"},
		{"unterminated", "d5:added0:", "parse pex message"},
		{"trailing bytes", "d5:added0:exyz", "after the dict"},
		{"too long", "d5:added" + strconv.Itoa(peer.MaxPexMessageLen) + ":" + strings.Repeat("x", peer.MaxPexMessageLen) + "e", "limit"},
		{"nested too deep", "d1:x" + strings.Repeat("l", 100) + strings.Repeat("e", 100) + "e", "parse pex message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := peer.ParsePexMessage([]byte(tt.payload))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePexMessage(%.60q) = %+v, %v, want an error with %q", tt.payload, got, err, tt.want)
			}
		})
	}
}

// TestParsePexMessageKeepsFirstEntries: a list longer than MaxPexEntries is cut, its flags
// with it, without an error.
func TestParsePexMessageKeepsFirstEntries(t *testing.T) {
	const n = peer.MaxPexEntries + 50
	var added, flags, dropped6 []byte
	for i := range n {
		added = append(added, 10, 0, byte(i>>8), byte(i), 0x1a, 0xe1)
		flags = append(flags, byte(i))
		dropped6 = append(dropped6, make([]byte, 16)...)
		dropped6 = append(dropped6, byte(i>>8), byte(i))
	}
	payload := "d5:added" + strconv.Itoa(len(added)) + ":" + string(added) + "7:added.f" + strconv.Itoa(len(flags)) + ":" + string(flags) +
		"8:dropped6" + strconv.Itoa(len(dropped6)) + ":" + string(dropped6) + "e"
	m, err := peer.ParsePexMessage([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Added) != peer.MaxPexEntries || len(m.AddedFlags) != peer.MaxPexEntries || len(m.Dropped6) != peer.MaxPexEntries {
		t.Fatalf("kept %d added, %d flags, %d dropped6, want %d each", len(m.Added), len(m.AddedFlags), len(m.Dropped6), peer.MaxPexEntries)
	}
	last := peer.MaxPexEntries - 1
	if want := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(last >> 8), byte(last)}), 6881); m.Added[last] != want || m.AddedFlags[last] != byte(last) {
		t.Errorf("last kept entry %v flags %#x, want %v flags %#x", m.Added[last], m.AddedFlags[last], want, byte(last))
	}
	if _, err := m.Marshal(); err != nil {
		t.Errorf("Marshal of the cut message: %v", err)
	}
}
