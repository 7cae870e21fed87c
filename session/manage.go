package session

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/time/rate"

	"swarm/metainfo"
	"swarm/peer"
	"swarm/piece"
	"swarm/tracker"
)

// Managing one torrent while the session runs: what a daemon needs on top
// of what seed and get use. A torrent is paused by removing it (its loop
// stops and saves its resume record) and resumed by a new Torrent from
// that record (OpenContent, NewTorrent, AddTorrent): no re-hash.

// ErrNotInSession is returned for a torrent the session does not run.
var ErrNotInSession = errors.New("the torrent is not in the session")

// RemoveTorrent stops t and takes it out of the session: its loop tells the
// trackers it stopped (5 s at most), saves the resume record and closes
// storage; Stopped is closed once that is done. Peers that ask for t's info
// hash from then on are refused, and a new Torrent of the same info hash
// may be added.
func (s *Session) RemoveTorrent(t *Torrent) error {
	s.mu.Lock()
	if s.torrents[t.infoHash] != t {
		s.mu.Unlock()
		return fmt.Errorf("remove torrent %x: %w", t.infoHash, ErrNotInSession)
	}
	delete(s.torrents, t.infoHash)
	// Counted again rather than subtracted: a magnet's torrent reserved
	// the most any torrent needs and may have its info dict by now.
	s.reserve = 0
	for _, x := range s.torrents {
		var info *metainfo.Info
		if m := x.Info(); m != nil {
			info = &m.Info
		}
		s.reserve += torrentReserve(info)
	}
	s.conns.setMax(connBudget(s.fds, s.reserve, s.cfg.MaxConns))
	halt := t.halt
	s.mu.Unlock()
	if halt != nil {
		halt()
		return nil
	}
	// Never started (the session is not running yet): nothing to save.
	err := t.cfg.Store.Close()
	close(t.stopped)
	return err
}

// SetRates changes the session's upload and download caps, in bytes per
// second; 0 means unlimited. Running torrents obey the new caps at once.
func (s *Session) SetRates(up, down int64) error {
	if up < 0 || down < 0 {
		return errors.New("session: negative rate limit")
	}
	setRate(s.up, up)
	setRate(s.down, down)
	return nil
}

// SetRates changes this torrent's own caps, in bytes per second, on top of
// the session's; 0 means no cap of its own. Safe from any goroutine.
func (t *Torrent) SetRates(up, down int64) error {
	if up < 0 || down < 0 {
		return errors.New("torrent: negative rate limit")
	}
	setRate(t.up[0], up)
	setRate(t.down[0], down)
	return nil
}

// SetFilePriorities changes the file priorities (TorrentConfig's
// FilePriorities): pieces started from then on follow them. Safe from any
// goroutine; the loop applies the change in order with the torrent's other
// events (peers added after it are picked from under it).
func (t *Torrent) SetFilePriorities(prios []int) error {
	for i, pr := range prios {
		if pr < -1 || pr > 1 {
			return fmt.Errorf("torrent: priority %d of file %d is not -1, 0 or 1", pr, i)
		}
	}
	if m := t.Info(); m != nil && prios != nil && len(prios) != len(m.Info.Files) {
		return fmt.Errorf("torrent: %d file priorities for %d files", len(prios), len(m.Info.Files))
	}
	t.post(context.Background(), prioritiesSet{prios: slices.Clone(prios)})
	return nil
}

// setPriorities is SetFilePriorities in the loop; a magnet's torrent
// keeps them for when its content opens.
func (t *Torrent) setPriorities(prios []int) {
	t.cfg.FilePriorities = prios
	if t.picker == nil {
		return
	}
	if err := applyPriorities(t.picker, &t.m.Info, prios); err != nil {
		t.log.Warn().Err(err).Msg("file priorities not applied")
	}
}

// applyPriorities gives each piece of pk the highest priority of the files
// it holds bytes of (pad and empty files aside); nil prios makes all
// normal.
func applyPriorities(pk *piece.Picker[*peerConn], info *metainfo.Info, prios []int) error {
	if prios != nil && len(prios) != len(info.Files) {
		return fmt.Errorf("torrent: %d file priorities for %d files", len(prios), len(info.Files))
	}
	pr := make([]piece.Priority, info.NumPieces())
	if prios != nil {
		const unset = piece.PriorityLow - 1
		for p := range pr {
			pr[p] = unset
		}
		for i, f := range info.Files {
			if f.Padding || f.Length == 0 {
				continue
			}
			last := int((f.Offset + f.Length - 1) / info.PieceLength)
			for p := int(f.Offset / info.PieceLength); p <= last; p++ {
				pr[p] = max(pr[p], piece.Priority(prios[i]))
			}
		}
		for p := range pr {
			if pr[p] == unset {
				pr[p] = piece.PriorityNormal // only padding
			}
		}
	}
	for p, x := range pr {
		if err := pk.SetPriority(p, x); err != nil {
			return err
		}
	}
	return nil
}

// adjustable returns a limiter for bytesPerSec that SetRates can change
// later: unlike newLimiter, 0 gives an unlimited limiter rather than none.
// An unlimited rate.Limiter grants every reservation at once.
func adjustable(bytesPerSec int64) *rate.Limiter {
	if l := newLimiter(bytesPerSec); l != nil {
		return l
	}
	return rate.NewLimiter(rate.Inf, peer.BlockSize)
}

// setRate gives l the burst newLimiter would (a tenth of a second, at least
// one block) and the new rate, starting empty as newLimiter's; 0 means
// unlimited.
func setRate(l *rate.Limiter, bytesPerSec int64) {
	if bytesPerSec == 0 {
		l.SetLimit(rate.Inf)
		return
	}
	l.SetBurst(max(int(bytesPerSec/10), peer.BlockSize))
	l.SetLimit(rate.Limit(bytesPerSec))
	emptyBucket(l)
}

// Detail is the part of Stats a daemon's clients show beside the totals.
type Detail struct {
	// Bits is the bitfield of verified pieces (BEP 3 order, high bit
	// first). Snapshots share it while it does not change: never modify.
	Bits     []byte
	Leechers int // connected peers that lack some piece
	// PeerList describes each connected peer.
	PeerList []PeerStats
	// Announce is the result of the last announce round; nil before one.
	Announce *AnnounceResult
	// TrackerTiers are the announce URLs by tier (BEP 12).
	TrackerTiers [][]string
}

// PeerStats describes one connected peer.
type PeerStats struct {
	Addr       netip.AddrPort
	Client     string // its BEP 10 "v", else its peer id's prefix
	Incoming   bool   // it connected to us
	AmChoking  bool   // we do not upload to it
	Choking    bool   // it does not upload to us
	Interested bool   // we want some of its pieces
	PeerWants  bool   // it wants some of ours
	DownRate   float64
	UpRate     float64 // bytes per second, recent
	Progress   float64 // share of the pieces it has, 0 to 1; 0 until it says
}

// AnnounceResult is what the last announce round to the trackers gave.
type AnnounceResult struct {
	At       time.Time
	Err      string // "" when a tracker answered
	Seeders  int64  // as the tracker counts them; -1 when not given
	Leechers int64
	Peers    int       // addresses it gave
	Next     time.Time // when the next announce is due
}

// noteAnnounce records an announce round's result for Detail; called by
// the announce loop.
func (t *Torrent) noteAnnounce(resp tracker.AnnounceResponse, err error, next time.Time) {
	r := &AnnounceResult{At: time.Now(), Seeders: -1, Leechers: -1, Next: next}
	if err != nil {
		r.Err = err.Error()
	} else {
		r.Seeders, r.Leechers, r.Peers = resp.Complete, resp.Incomplete, len(resp.Peers)
	}
	t.announced.Store(r)
}

// fillDetail adds Detail to a snapshot being built by publishStats.
func (t *Torrent) fillDetail(st *Stats) {
	prev := t.stats.Load()
	switch {
	case t.picker == nil: // a magnet's torrent before its info dict and storage
	case prev != nil && prev.Have == st.Have && prev.Bits != nil:
		st.Bits = prev.Bits
	default:
		st.Bits = t.picker.Have().Bytes()
	}
	if prev != nil && prev.TrackerTiers != nil {
		st.TrackerTiers = prev.TrackerTiers // fixed for the torrent's life
	} else {
		st.TrackerTiers = t.trackers()
	}
	st.Leechers = st.Peers - st.Seeds
	st.Announce = t.announced.Load()
	if len(t.peers) == 0 {
		return
	}
	st.PeerList = make([]PeerStats, 0, len(t.peers))
	for p := range t.peers {
		ps := PeerStats{
			Addr:       p.addr,
			Client:     p.agent,
			Incoming:   !p.outgoing,
			AmChoking:  p.amChoking,
			Choking:    p.peerChoking,
			Interested: p.amInterested,
			PeerWants:  p.peerInterested,
			DownRate:   p.rate.recent(recentWindow),
			UpRate:     p.upRate.recent(recentWindow),
		}
		if ps.Client == "" {
			ps.Client = clientFromID(p.id)
		}
		if p.has != nil && p.has.Len() > 0 {
			ps.Progress = float64(p.has.Count()) / float64(p.has.Len())
		}
		st.PeerList = append(st.PeerList, ps)
	}
}

// clientFromID names a client by its Azureus-style peer id prefix (BEP 20),
// e.g. "-TR3000-" gives "TR3000"; "" when the id is not in that style.
func clientFromID(id [20]byte) string {
	if id[0] != '-' || id[7] != '-' {
		return ""
	}
	for _, c := range id[1:7] {
		if c < '0' || c > 'z' {
			return ""
		}
	}
	return string(id[1:7])
}
