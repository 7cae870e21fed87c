package peer_test

import (
	"maps"
	"net/netip"
	"strings"
	"testing"

	"swarm/peer"
)

func sameExtensionHandshake(a, b peer.ExtensionHandshake) bool {
	return maps.Equal(a.M, b.M) && a.V == b.V && a.Port == b.Port && a.Reqq == b.Reqq &&
		a.MetadataSize == b.MetadataSize && a.YourIP == b.YourIP
}

func TestExtensionHandshakeMarshal(t *testing.T) {
	tests := []struct {
		name string
		h    peer.ExtensionHandshake
		want string
	}{
		{"empty keeps m", peer.ExtensionHandshake{}, "d1:mdee"},
		{"full", peer.ExtensionHandshake{
			M:            map[string]uint8{"ut_metadata": 2, "ut_pex": 1},
			V:            "swarm 0.1",
			Port:         6881,
			Reqq:         250,
			MetadataSize: 31235,
			YourIP:       netip.MustParseAddr("10.0.0.1"),
		}, "d1:md11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei31235e1:pi6881e4:reqqi250e1:v9:swarm 0.16:yourip4:\x0a\x00\x00\x01e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.h.Marshal()
			if err != nil || string(got) != tt.want {
				t.Fatalf("Marshal() = %q, %v, want %q (keys sorted, as bencode requires)", got, err, tt.want)
			}
			back, err := peer.ParseExtensionHandshake(got)
			if tt.h.M == nil {
				tt.h.M = map[string]uint8{}
			}
			if err != nil || !sameExtensionHandshake(back, tt.h) {
				t.Errorf("ParseExtensionHandshake(%q) = %+v, %v, want %+v", got, back, err, tt.h)
			}
		})
	}
}

func TestParseExtensionHandshake(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want peer.ExtensionHandshake
	}{
		{"libtorrent style",
			"d12:complete_agoi1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei5132e4:reqqi500e11:upload_onlyi1e1:v17:qBittorrent/4.6.26:yourip4:\x7f\x00\x00\x01e",
			peer.ExtensionHandshake{
				M:            map[string]uint8{"lt_donthave": 7, "share_mode": 8, "upload_only": 3, "ut_holepunch": 4, "ut_metadata": 2, "ut_pex": 1},
				V:            "qBittorrent/4.6.2",
				Reqq:         500,
				MetadataSize: 5132,
				YourIP:       netip.MustParseAddr("127.0.0.1"),
			}},
		{"disabling an extension", "d1:md6:ut_pexi0eee", peer.ExtensionHandshake{M: map[string]uint8{"ut_pex": 0}}},
		{"ipv6 yourip", "d1:mde6:yourip16:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01e",
			peer.ExtensionHandshake{YourIP: netip.MustParseAddr("2001:db8::1")}},
		{"v4-mapped yourip is unmapped", "d1:mde6:yourip16:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04e",
			peer.ExtensionHandshake{YourIP: netip.MustParseAddr("1.2.3.4")}},
		{"no m at all", "d1:pi51413ee", peer.ExtensionHandshake{Port: 51413}},
		{"v of wrong type ignored", "d1:mde1:vi5ee", peer.ExtensionHandshake{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := peer.ParseExtensionHandshake([]byte(tt.in))
			if err != nil || !sameExtensionHandshake(got, tt.want) {
				t.Errorf("ParseExtensionHandshake(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseExtensionHandshakeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"not a dict", "li1ee"},
		{"truncated", "d1:md6:ut_pexi1e"},
		{"id over 255", "d1:md6:ut_pexi256eee"},
		{"negative id", "d1:md6:ut_pexi-1eee"},
		{"m not a dict", "d1:mi3ee"},
		{"port over 65535", "d1:mde1:pi65536ee"},
		{"negative port", "d1:mde1:pi-1ee"},
		{"negative metadata_size", "d1:mde13:metadata_sizei-5ee"},
		{"negative reqq", "d1:mde4:reqqi-5ee"},
		{"yourip of 5 bytes", "d1:mde6:yourip5:abcdee"},
		{"trailing bytes", "d1:mdeexyz"},
		{"too long", "d1:v70000:" + strings.Repeat("x", 70000) + "e"},
		{"huge string length", "d1:v99999999999:xe"},
		{"deep nesting", "d1:x" + strings.Repeat("l", 100000) + strings.Repeat("e", 100000) + "e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := peer.ParseExtensionHandshake([]byte(tt.in)); err == nil {
				t.Errorf("ParseExtensionHandshake(%.40q) = %+v, nil, want an error", tt.in, got)
			}
		})
	}
}
