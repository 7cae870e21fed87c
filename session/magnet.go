package session

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"swarm/metadata"
	"swarm/metainfo"
	"swarm/peer"
	"swarm/piece"
)

// A magnet link's torrent starts in the metadata state: it announces, dials
// and accepts peers like any torrent, and asks the peers that offer the
// info dict (ut_metadata with a metadata_size, BEP 9 over BEP 10) for it,
// through a metadata.Assembler that owns the pure part (which peer is asked
// for which piece, the 24 MiB budget of claimed sizes, the hash check).
// What peers say they have before we know the piece count is kept
// (earlyHave). Once the dict matches the info hash, TorrentConfig.Open
// opens the storage off the loop; then each connected peer gets our
// bitfield (as libtorrent sends it once it has the metadata) and its own is
// applied, and the download goes on over the same connections.

// Timing and bounds of the metadata state.
const (
	// magnetRetryMin: while no peer is connected, trackers are asked again
	// this soon, then twice as long each time up to shortOfPeersRetry
	// (within their min interval); the DHT does the same on its own
	// schedule (dhtRetryMin). A seed that announces a second after us is
	// found on our next announce, if it has not connected to us first.
	magnetRetryMin = time.Second
	// magnetLeft is the "left" we announce without the metadata: not 0, so
	// that trackers do not take us for a seed. libtorrent sends 16 KiB.
	magnetLeft = 16 << 10
	// maxEarlyPieces bounds the have messages kept before the piece count
	// is known: no info dict we would fetch (peer.MaxMetadataSize) holds
	// more piece hashes.
	maxEarlyPieces = peer.MaxMetadataSize / 20
	// maxNameLen bounds a magnet link's display name.
	maxNameLen = 255
)

var errMetadataTimeout = errors.New("metadata: no piece of the info dict in time")

// AddMagnet adds the torrent of a magnet link to the session, in the
// metadata state, and starts it if the session runs. The link's trackers
// (one tier each, as libtorrent makes them) are its announce list unless
// cfg.Trackers is set; its x.pe peers that resolve (ResolvePeer: a host
// name is looked up) join cfg.Peers. cfg.Open is required and opens the
// storage once the info dict is known; cfg.Store, Have, SaveResume and
// Wanted must be unset (Open gives them). The torrent's Name is the link's
// dn (or the info hash) until the info dict arrives; Opened is closed once
// the storage is open.
func (s *Session) AddMagnet(link string, cfg TorrentConfig) (*Torrent, error) {
	mg, err := metainfo.ParseMagnet(link)
	if err != nil {
		return nil, err
	}
	if cfg.Open == nil {
		return nil, errors.New("magnet: no TorrentConfig.Open to open the storage once the info dict arrives")
	}
	if cfg.Store != nil || cfg.Have != nil || cfg.SaveResume != nil || cfg.Wanted != nil {
		return nil, errors.New("magnet: Store, Have, SaveResume and Wanted come from TorrentConfig.Open")
	}
	cfg.Peers = append([]netip.AddrPort(nil), cfg.Peers...)
	for _, p := range mg.Peers {
		if a, err := ResolvePeer(p); err == nil {
			cfg.Peers = append(cfg.Peers, a)
		}
	}
	if cfg.Trackers == nil {
		for _, u := range mg.Trackers {
			cfg.Trackers = append(cfg.Trackers, []string{u})
		}
	}
	name := displayName(mg.Name)
	if name == "" {
		name = mg.InfoHash.String()
	}
	t, err := s.newTorrent(mg.InfoHash, name, cfg)
	if err != nil {
		return nil, err
	}
	if t.meta, err = metadata.New[*peerConn](metadata.Config{InfoHash: mg.InfoHash}); err != nil {
		return nil, err
	}
	t.magnetWS = mg.WebSeeds
	t.publishStats()
	if err := s.AddTorrent(t); err != nil {
		return nil, err
	}
	return t, nil
}

// displayName makes a magnet link's dn safe to print: no control
// characters, at most maxNameLen bytes.
func displayName(dn string) string {
	dn = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, dn)
	if len(dn) > maxNameLen {
		dn = strings.ToValidUTF8(dn[:maxNameLen], "")
	}
	return strings.TrimSpace(dn)
}

// offerFrom takes the metadata_size of p's extension handshake: a peer with
// ut_metadata and a size is asked for the info dict; one that no longer
// offers it is forgotten. Loop only, in the metadata state.
func (t *Torrent) offerFrom(p *peerConn, size int) {
	if p.utMetadata == 0 || size == 0 {
		t.meta.Drop(p)
		return
	}
	if err := t.meta.Offer(p, size); err != nil {
		p.log.Debug().Err(err).Msg("metadata: peer not asked")
		return
	}
	t.requestMetadata(time.Now())
}

// requestMetadata sends the ut_metadata requests the assembler wants sent.
func (t *Torrent) requestMetadata(now time.Time) {
	if t.meta == nil {
		return
	}
	for _, r := range t.meta.Requests(now) {
		payload, err := peer.MetadataMessage{Type: peer.MetadataRequest, Piece: r.Piece}.Marshal()
		if err != nil {
			t.log.Error().Err(err).Msg("encode metadata request")
			return
		}
		r.Peer.send(peer.Message{ID: peer.Extended, ExtendedID: r.Peer.utMetadata, Payload: payload})
	}
}

// onMetadataPiece takes a data or reject message in the metadata state. An
// error drops the peer; an info dict that fails the hash bans its IP.
func (t *Torrent) onMetadataPiece(p *peerConn, msg peer.MetadataMessage) error {
	now := time.Now()
	if msg.Type == peer.MetadataReject {
		return t.meta.Reject(p, msg.Piece)
	}
	info, err := t.meta.Data(p, msg, now)
	switch {
	case errors.Is(err, metadata.ErrHashMismatch):
		t.banForMetadata(p, err)
		return nil
	case err != nil:
		return violation("%v", err)
	case info == nil:
		t.requestMetadata(now)
		return nil
	}
	p.log.Info().Bool("incoming", !p.outgoing).Int("bytes", len(info)).Msg("metadata received")
	t.gotInfo(info)
	return nil
}

// banForMetadata refuses the IP and peer id of p, whose info dict failed
// the hash, as a peer whose data fails a piece's hash is: its other
// connections go, and none of them is asked again.
func (t *Torrent) banForMetadata(p *peerConn, why error) {
	ip := p.addr.Addr().Unmap()
	t.addrs.ban(ip)
	t.bannedIDs[p.id] = true
	p.log.Info().Err(why).Msg("metadata: peer sent a bad info dict; its IP is banned for this torrent")
	for q := range t.peers {
		if q.addr.Addr().Unmap() == ip {
			t.disconnect(q, fmt.Errorf("banned address: a peer at %s sent an info dict that failed the hash", ip))
		}
	}
}

// gotInfo leaves the metadata state with the verified info dict: the
// torrent knows its name and pieces and serves the dict from now on, and a
// goroutine opens its storage (cfg.Open).
func (t *Torrent) gotInfo(info []byte) {
	m, err := metainfo.FromInfo(info, t.cfg.Trackers)
	if err == nil && m.InfoHash != t.infoHash {
		err = fmt.Errorf("info hash %v, want %v", m.InfoHash, metainfo.Hash(t.infoHash))
	}
	if err != nil {
		t.fail(fmt.Errorf("metadata of %v: %w", metainfo.Hash(t.infoHash), err))
		return
	}
	t.meta = nil
	m.URLList = t.magnetWS // BEP 19 web seeds from the link's ws
	t.setInfo(m)
	if m.Info.Private {
		// BEP 27: no DHT and no pex from now on.
		if t.stopDHT != nil {
			t.stopDHT()
		}
		t.log.Info().Msg("the torrent is private (BEP 27): its peers will come from its trackers only")
	}
	t.publishStats()
	ctx := t.ctx
	t.wg.Go(func() {
		cfg, err := t.cfg.Open(ctx, m)
		if err == nil && cfg.Store == nil {
			err = errors.New("TorrentConfig.Open returned no Store")
		}
		if err != nil && cfg.Store != nil {
			cfg.Store.Close()
			cfg.Store = nil
		}
		if !t.post(ctx, contentOpened{cfg: cfg, err: err}) && cfg.Store != nil {
			cfg.Store.Close()
		}
	})
}

// onOpened takes the storage Open returned and starts downloading over the
// connections the torrent has: each peer hears our bitfield, and what it
// said it has before we knew the piece count is applied.
func (t *Torrent) onOpened(ev contentOpened) {
	err := ev.err
	if err == nil {
		if err = t.setContent(ev.cfg); err != nil {
			ev.cfg.Store.Close()
		}
	}
	if err != nil {
		t.fail(fmt.Errorf("open storage: %w", err))
		return
	}
	t.startContent()
	for p := range t.peers {
		if err := t.learnInfo(p); err != nil {
			t.disconnect(p, err)
		}
	}
	t.rechoke(time.Now())
	t.publishStats()
}

// learnInfo brings a peer connected before the info dict up to date: the
// decoder cannot be told the piece count now (only its reader may), so its
// default bitfield bound stays, and the loop checks bitfields by size.
func (t *Torrent) learnInfo(p *peerConn) error {
	t.sendBitfield(p)
	bf, err := p.early.resolve(t.geo.NumPieces())
	p.early = earlyHave{}
	if err != nil {
		return err
	}
	if bf != nil {
		if err := t.peerHas(p, bf); err != nil {
			return err
		}
	}
	t.updateInterest(p)
	t.fillRequests(p) // it may have unchoked us already
	return nil
}

// beforeContent handles the messages, other than extended and port ones,
// that come before the torrent has its storage: the peer's choke and
// interest are noted, what it has is kept for later, and a request for a
// piece, which it cannot know we have, breaks the protocol.
func (t *Torrent) beforeContent(p *peerConn, m peer.Message) error {
	switch m.ID {
	case peer.Choke:
		p.peerChoking = true
	case peer.Unchoke:
		p.peerChoking = false
	case peer.Interested:
		p.peerInterested = true
	case peer.NotInterested:
		p.peerInterested = false
	case peer.Have:
		return p.early.have(m.Index)
	case peer.Bitfield:
		p.early.bitfield(m.Bitfield)
	case peer.HaveAll:
		p.early = earlyHave{all: true}
		t.fastStats.haveAlls++
	case peer.HaveNone:
		p.early = earlyHave{}
	case peer.Request:
		return violation("request for piece %d before we have any", m.Index)
	}
	return nil
}

// earlyHave is what a peer said it has before we knew the piece count: its
// bitfield (which replaces what came before, as in onMessage) and the have
// messages since, at most maxEarlyPieces bits each.
type earlyHave struct {
	field []byte // the bitfield's payload; nil if none came
	haves []byte // bits set by have messages, grown as they come
	all   bool   // it sent have-all (BEP 6) since its last bitfield
}

func (e *earlyHave) bitfield(b []byte) {
	e.field, e.haves, e.all = b, nil, false
	if e.field == nil {
		e.field = []byte{}
	}
}

func (e *earlyHave) have(i uint32) error {
	if i >= maxEarlyPieces {
		return violation("have %d: no torrent we could fetch has that many pieces", i)
	}
	if n := int(i/8) + 1; n > len(e.haves) {
		e.haves = append(e.haves, make([]byte, n-len(e.haves))...)
	}
	e.haves[i/8] |= 0x80 >> (i % 8)
	return nil
}

// resolve returns the pieces of a torrent of n pieces the peer said it
// has, or nil if it said nothing; a bitfield of the wrong size or a have
// past n breaks the protocol.
func (e *earlyHave) resolve(n int) (*piece.Bitfield, error) {
	if e.field == nil && e.haves == nil && !e.all {
		return nil, nil
	}
	bf := piece.NewBitfield(n)
	if e.all {
		bf.SetAll()
	}
	if e.field != nil {
		var err error
		if bf, err = piece.FromBytes(e.field, n); err != nil {
			return nil, violation("bitfield sent before the metadata: %v", err)
		}
	}
	for i := range len(e.haves) * 8 {
		if e.haves[i/8]&(0x80>>(i%8)) == 0 {
			continue
		}
		if i >= n {
			return nil, violation("have %d of a torrent with %d pieces", i, n)
		}
		bf.Set(i)
	}
	return bf, nil
}
