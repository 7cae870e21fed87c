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
//   - When seeding there is nothing to reciprocate, so the slots go to the
//     peers we upload to fastest (libtorrent's "fastest upload" seeding
//     choker): they finish soonest and start uploading to others, which
//     spreads pieces fastest. Slower peers are still served over time
//     through the optimistic slot, which rotates; round-robin seeding
//     (libtorrent's other choice) spreads the upload thinner and finishes
//     no one sooner, so the lab's distribution time is the tiebreaker if
//     this is revisited.
//   - One more slot, the optimistic unchoke, moves every OptimisticInterval
//     (30 s) to a random choked, interested peer; peers connected within the
//     last NewPeerWindow are three times as likely to get it, so newcomers
//     get a first piece to trade with. It is also how a better partner is
//     found.
package choke
