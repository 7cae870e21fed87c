package metainfo_test

import (
	"strings"
	"testing"

	"swarm/metainfo"
)

// TestShareableMagnetOfAPrivateTorrentIsEmpty: no magnet link for a
// private torrent (its tr= would hold the passkey); a public one's names
// its info hash and tracker.
func TestShareableMagnetOfAPrivateTorrentIsEmpty(t *testing.T) {
	const tr = "http://t.example/0123456789abcdef0123456789abcdef/announce"
	for _, private := range []bool{false, true} {
		m := &metainfo.MetaInfo{Announce: tr, Info: metainfo.Info{Name: "x", Private: private}}
		got := m.ShareableMagnet()
		if private && got != "" {
			t.Errorf("ShareableMagnet of a private torrent = %q, want \"\"", got)
		}
		if !private && (!strings.HasPrefix(got, "magnet:?xt=urn:btih:") || !strings.Contains(got, "t.example")) {
			t.Errorf("ShareableMagnet of a public torrent = %q, want its magnet link with its tracker", got)
		}
	}
}
