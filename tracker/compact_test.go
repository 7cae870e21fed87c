package tracker_test

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"

	"swarm/tracker"
)

func TestParseCompact(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		ipv6    bool
		want    []string
		wantErr bool
	}{
		{name: "empty", in: "", want: []string{}},
		{name: "one ipv4", in: "\x7f\x00\x00\x01\x1a\xe1", want: []string{"127.0.0.1:6881"}},
		{name: "two ipv4", in: "\x0a\x00\x00\x01\x00\x50\xc0\xa8\x01\x02\xff\xff", want: []string{"10.0.0.1:80", "192.168.1.2:65535"}},
		{name: "ipv4 port 0 kept", in: "\x01\x02\x03\x04\x00\x00", want: []string{"1.2.3.4:0"}},
		{name: "ipv4 short", in: "\x7f\x00\x00\x01\x1a", wantErr: true},
		{name: "ipv4 seven", in: "1234567", wantErr: true},
		{name: "one ipv6", in: "\x20\x01\x0d\xb8" + string(make([]byte, 11)) + "\x01\x1a\xe1", ipv6: true, want: []string{"[2001:db8::1]:6881"}},
		{name: "ipv6 short", in: "123456", ipv6: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse := tracker.ParseCompactIPv4
			if tt.ipv6 {
				parse = tracker.ParseCompactIPv6
			}
			got, err := parse([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parse(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if s == nil {
				s = []string{}
			}
			if !slices.Equal(s, tt.want) {
				t.Errorf("parse(%q) = %v, want %v", tt.in, s, tt.want)
			}
		})
	}
}

func TestEncodeCompactSplitsFamilies(t *testing.T) {
	peers := []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.1:6881"),
		netip.MustParseAddrPort("[2001:db8::1]:1"),
		netip.MustParseAddrPort("[::ffff:10.0.0.1]:80"), // mapped: goes with IPv4
		{}, // invalid: skipped
	}
	v4, v6 := tracker.EncodeCompact(peers)
	if want := "\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x01\x00\x50"; string(v4) != want {
		t.Errorf("v4 = %q, want %q", v4, want)
	}
	if len(v6) != tracker.CompactIPv6Len {
		t.Fatalf("len(v6) = %d, want %d", len(v6), tracker.CompactIPv6Len)
	}
	got, err := tracker.ParseCompactIPv6(v6)
	if err != nil || len(got) != 1 || got[0] != peers[1] {
		t.Errorf("ParseCompactIPv6(v6) = %v, %v, want [%v]", got, err, peers[1])
	}
	if b := tracker.AppendCompact([]byte("x"), netip.AddrPort{}); !bytes.Equal(b, []byte("x")) {
		t.Errorf("AppendCompact(invalid) = %q, want unchanged", b)
	}
}
