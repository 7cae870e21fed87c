package peer_test

import (
	"testing"

	"swarm/peer"
)

func TestClientName(t *testing.T) {
	for _, tt := range []struct {
		name, id, want string
	}{
		{"libtorrent", "-LT2080-abcdefghijkl", "libtorrent 2.0.8"},
		{"qBittorrent", "-qB4520-abcdefghijkl", "qBittorrent 4.5.2"},
		{"Transmission", "-TR3000-abcdefghijkl", "Transmission 3.0.0"},
		{"Deluge", "-DE13F0-abcdefghijkl", "Deluge 1.3.15"},
		{"uTorrent with a build letter", "-UT355W-abcdefghijkl", "µTorrent 3.5.5.32"},
		{"rtorrent's libtorrent", "-lt0D80-abcdefghijkl", "libtorrent (rakshasa) 0.13.8"},
		{"swarm", "-SW0100-abcdefghijkl", "swarm 0.1.0"},
		{"unknown Azureus code", "-ZZ1234-abcdefghijkl", "ZZ 1.2.3.4"},
		{"aria2", "A2-1-36-0-\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a", "aria2 1.36.0"},
		{"aria2 with digits after", "A2-1-36-0-12-4567890", "aria2 1.36.0"},
		{"Mainline", "M4-3-6--abcdefghijkl", "BitTorrent 4.3.6"},
		{"Mainline two-digit minor", "M7-10-3-abcdefghijkl", "BitTorrent 7.10.3"},
		{"Shadow", "S58B-----abcdefghijk", "Shadow 5.8.11"},
		{"BitTornado", "T03I-----abcdefghijk", "BitTornado 0.3.18"},
		{"Shadow letter without the dashes", "T03Iabcdefghijklmnop", "T03Iabcd"},
		{"printable, no known style", "exbc\x00\x01abcdefghijklmn", "exbc"},
		{"binary", "\x00\x01\x02\x03abcdefghijklmnop", "00010203"},
		{"dashes in the wrong place", "-LT20801abcdefghijkl", "-LT20801"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var id [20]byte
			if len(tt.id) != 20 {
				t.Fatalf("test id %q is %d bytes, want 20", tt.id, len(tt.id))
			}
			copy(id[:], tt.id)
			if got := peer.ClientName(id); got != tt.want {
				t.Errorf("ClientName(%q) = %q, want %q", tt.id, got, tt.want)
			}
		})
	}
}
