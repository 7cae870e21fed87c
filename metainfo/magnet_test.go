package metainfo_test

import (
	"fmt"
	"strings"
	"testing"

	"swarm/metainfo"
)

func TestParseMagnet(t *testing.T) {
	const hexHash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
	const b32Hash = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK" // the same hash in base32
	tests := []struct {
		name     string
		in       string
		hash     string
		dn       string
		trackers []string
		peers    []string
	}{
		{"hex", "magnet:?xt=urn:btih:" + hexHash, hexHash, "", nil, nil},
		{"upper hex", "magnet:?xt=urn:btih:" + strings.ToUpper(hexHash), hexHash, "", nil, nil},
		{"base32", "magnet:?xt=urn:btih:" + b32Hash, hexHash, "", nil, nil},
		{"lower base32", "magnet:?xt=urn:btih:" + strings.ToLower(b32Hash), hexHash, "", nil, nil},
		{"name and trackers", "magnet:?xt=urn:btih:" + hexHash + "&dn=My+Album%21&tr=http%3A%2F%2Fa%2Fannounce&tr=udp://b:80",
			hexHash, "My Album!", []string{"http://a/announce", "udp://b:80"}, nil},
		{"peers", "magnet:?xt=urn:btih:" + hexHash + "&x.pe=127.0.0.1:6881&x.pe=%5B::1%5D:6882&x.pe=host.example:1",
			hexHash, "", nil, []string{"127.0.0.1:6881", "[::1]:6882", "host.example:1"}},
		{"hybrid with btmh", "magnet:?xt=urn:btih:" + hexHash + "&xt=urn:btmh:1220abcd", hexHash, "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := metainfo.ParseMagnet(tt.in)
			if err != nil {
				t.Fatalf("ParseMagnet(%q) = %v", tt.in, err)
			}
			if m.InfoHash.String() != tt.hash || m.Name != tt.dn ||
				strings.Join(m.Trackers, " ") != strings.Join(tt.trackers, " ") ||
				strings.Join(m.Peers, " ") != strings.Join(tt.peers, " ") {
				t.Errorf("ParseMagnet(%q) = %+v, want hash %s dn %q tr %v pe %v", tt.in, m, tt.hash, tt.dn, tt.trackers, tt.peers)
			}
			// Formatting and parsing again gives the same link.
			again, err := metainfo.ParseMagnet(m.String())
			if err != nil || again.String() != m.String() {
				t.Errorf("round trip of %q: %q, %v", m.String(), again.String(), err)
			}
		})
	}
}

func TestParseMagnetRefusesBadLinks(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not a magnet", "http://x/", "must start with"},
		{"no hash", "magnet:?dn=x", "no xt=urn:btih"},
		{"v2 only", "magnet:?xt=urn:btmh:1220abcd", "v2-only torrents are not supported yet"},
		{"short hash", "magnet:?xt=urn:btih:abcd", "want 40 hex"},
		{"bad hex", "magnet:?xt=urn:btih:" + strings.Repeat("g", 40), "not hex"},
		{"bad base32", "magnet:?xt=urn:btih:" + strings.Repeat("1", 32), "not base32"},
		{"two hashes", "magnet:?xt=urn:btih:" + strings.Repeat("a", 40) + "&xt=urn:btih:" + strings.Repeat("b", 40), "two different"},
		{"bad escape", "magnet:?xt=urn:btih:" + strings.Repeat("a", 40) + "&dn=%zz", "invalid URL escape"},
		{"bad peer", "magnet:?xt=urn:btih:" + strings.Repeat("a", 40) + "&x.pe=nohostport", "host:port"},
		{"too long", "magnet:?xt=urn:btih:" + strings.Repeat("a", 40) + "&dn=" + strings.Repeat("x", 70000), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := metainfo.ParseMagnet(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseMagnet(%.50q) error = %v, want one containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func ExampleParseMagnet() {
	m, err := metainfo.ParseMagnet("magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=album&tr=http%3A%2F%2Ft%2Fannounce")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.InfoHash, m.Name, m.Trackers)
	// Output: c12fe1c06bba254a9dc9f519b335aa7c1367a88a album [http://t/announce]
}
