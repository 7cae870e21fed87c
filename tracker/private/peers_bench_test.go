package private

import (
	"net/netip"
	"testing"

	"swarm/metainfo"
	"swarm/tracker"
)

// BenchmarkPeerIndexRecord is what the admin API's peer index adds to an
// accepted announce: one shard lock and one map write (100,000 peers known,
// re-announcing).
func BenchmarkPeerIndexRecord(b *testing.B) {
	var x peerIndex
	addr := netip.MustParseAddrPort("10.0.0.1:6881")
	reqs := make([]tracker.AnnounceRequest, 100_000)
	for i := range reqs {
		reqs[i].InfoHash = metainfo.Hash{byte(i), byte(i >> 8), byte(i % 1000 >> 2)}
		reqs[i].PeerID[0] = byte(i / 1000)
		reqs[i].Left = int64(i % 2)
	}
	for i := range reqs { // every peer known: re-announces only
		x.record(int64(i%100), &reqs[i], addr, 0)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		x.record(int64(i%100), &reqs[i%len(reqs)], addr, int64(i))
	}
}
