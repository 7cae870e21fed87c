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
//     Among equally fast peers (all of them before the first blocks), those
//     that unchoke us come first, and a holder keeps a tie only if it gave
//     us something; the optimistic peer earns a regular slot by its rate
//     alone. Otherwise a free rider, which never unchokes anyone, kept the
//     slots it got while rates were zero (lab trace, issue 20).
//   - When seeding there is nothing to reciprocate, so the slots rotate
//     (libtorrent's "round robin" seeding choker): a holder keeps its slot
//     until it has had SeedQuota (the session sets a piece) or an
//     optimistic interval has passed, then the slot goes to the peer whose
//     last slot began longest ago, fastest first among equals. Every
//     interested peer is served in turn, a free rider gets no more than its
//     share, and in the lab it beat the "fastest upload" choice (which let
//     the first few peers keep the seed): ratio to the bound at N = 16 went
//     from 1.22 to 1.17. A seed has SeedSlots (8) slots and no optimistic
//     one, and the session turns a slot over as soon as its holder has had
//     its quota, not at the next rechoke: in a new swarm every leecher then
//     gets a first piece to trade within half a second (lab, issue 20:
//     N = 16 went from 1.24 to 1.11 in separate processes).
//     Peers that show evidence of uploading come first (at least a quarter
//     of the interested peers' mean Peer.Evidence), the rotation among
//     equals: a seed sees it through the leechers' haves (Evidence: a piece
//     one leecher alone held shows up at another), a finished leecher in
//     what each peer sent it. Free riders get the slots nobody with
//     evidence wants, so a seed never idles while anyone wants data; with
//     no evidence at all the slots rotate among all. The session turns a
//     slot over once its holder has had its quota while a peer ranked
//     before it waits. Simulated, N = 16, F = 16 MiB (10 runs): ratio to
//     the bound 1.025 without free riders (rotation alone 1.024); with 4
//     free riders they finish 1.15× later than the others while seeds
//     stay (rotation alone 1.14×), 1.27× when leechers leave once done
//     (1.22×).
//   - One more slot while downloading, the optimistic unchoke, moves every OptimisticInterval
//     (30 s) to a random choked, interested peer; peers connected within the
//     last NewPeerWindow are three times as likely to get it, so newcomers
//     get a first piece to trade with. It is also how a better partner is
//     found.
//   - Between rechokes the session gives a freed slot to the next peer that
//     asks (Peer.Reciprocates tells it which ones to take back: a holder of
//     such a slot that gave nothing back within 2 s yields it to a choked
//     peer that does).
//   - SuperSeed is BEP 16's initial seeding: the seed claims to have nothing
//     and reveals one piece at a time to each peer, the least offered and
//     rarest, the next once another peer has announced the last.
package choke
