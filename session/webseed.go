package session

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"swarm/peer"
	"swarm/piece"
)

// Web seeds (BEP 19, url-list): HTTP(S) servers that hold the torrent's
// files. Each is a source beside the peers, known to the picker under a
// peerConn of its own that is never in t.peers: it takes blocks from the
// picker like a peer (Pick), its blocks go through the same write and hash
// check, and a piece it alone sent that fails the check bans it for the
// session (ban, verify.go). The loop owns every webSeed field; the HTTP
// requests run on goroutines (webseedhttp.go) that post webSeedFetched.

const (
	// maxWebSeeds bounds the url-list entries used.
	maxWebSeeds = 8
	// webSeedFetches is how many fetches one web seed has in flight, so
	// that a round trip does not leave it idle.
	webSeedFetches = 4
	// webSeedFetchBlocks is the most blocks one fetch asks for (1 MiB), in
	// one HTTP range request per file it spans: the memory a fetch holds.
	webSeedFetchBlocks = 64
	// webSeedTimeout bounds one fetch: a server slower than about 17 KB/s
	// fails it, and the blocks go back to the picker.
	webSeedTimeout = 60 * time.Second
	// A failed web seed rests webSeedRetryMin, doubling with each failure
	// in a row up to webSeedRetryMax.
	webSeedRetryMin = 5 * time.Second
	webSeedRetryMax = 5 * time.Minute
)

// webSeed is one url-list entry. Loop state.
type webSeed struct {
	url      string
	key      *peerConn // its identity in the picker
	inFlight int       // fetches running
	failures int       // failed fetches in a row
	retryAt  time.Time // no fetch before this, after a failure
	lastErr  error
	banned   bool // sent data that failed a hash check: never used again
	got      int64
	second   int64 // bytes since the last tick, for rate
	rate     rateMeter
}

// webSeedFetched: a fetch ended. blocks[i] holds data[i] (pool buffers);
// missing are the blocks it did not get, because of err.
type webSeedFetched struct {
	ws      *webSeed
	blocks  []piece.Block
	data    [][]byte
	missing []piece.Block
	err     error
}

func (webSeedFetched) isEvent() {}

// WebSeedStats is one web seed in Stats.
type WebSeedStats struct {
	URL        string
	Downloaded int64  // payload bytes received from it this session
	Banned     bool   // it sent data that failed a hash check
	Err        string // its last failure, "" after a success
}

// startWebSeeds makes the torrent's web seeds known to the picker; called
// once the picker exists. Only http and https URLs are used.
func (t *Torrent) startWebSeeds() {
	if t.m == nil || len(t.m.URLList) == 0 || t.webClient != nil {
		return
	}
	for _, u := range t.m.URLList {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			t.log.Info().Str("web_seed", u).Msg("web seed ignored: not an http or https URL")
			continue
		}
		if len(t.webSeeds) == maxWebSeeds {
			t.log.Info().Int("web_seeds", len(t.m.URLList)).Msgf("using the first %d web seeds", maxWebSeeds)
			break
		}
		ws := &webSeed{url: u}
		ws.key = &peerConn{t: t, log: t.log.With().Str("web_seed", u).Logger()}
		t.picker.PeerHasAll(ws.key)
		t.webSeeds = append(t.webSeeds, ws)
	}
	if len(t.webSeeds) > 0 {
		t.webClient = newWebClient()
		if !t.complete {
			t.log.Info().Int("web_seeds", len(t.webSeeds)).Msg("downloading from web seeds too")
		}
	}
}

// fillWebSeeds starts fetches on the web seeds that are free to take more.
func (t *Torrent) fillWebSeeds(now time.Time) {
	if t.picker == nil || t.complete || t.diskErr != nil || t.ctx == nil {
		return
	}
	for _, ws := range t.webSeeds {
		for !ws.banned && ws.inFlight < webSeedFetches && !now.Before(ws.retryAt) {
			blocks := t.picker.Pick(ws.key, webSeedFetchBlocks)
			if len(blocks) == 0 {
				break
			}
			ws.inFlight++
			ctx, limit := t.ctx, cmp.Or(t.webTimeout, webSeedTimeout)
			t.wg.Go(func() { t.fetchWebSeed(ctx, limit, ws.url, ws, blocks) })
		}
	}
}

// tickWebSeeds moves the web seeds' byte counts into their rates and
// starts fetches on those whose rest is over.
func (t *Torrent) tickWebSeeds(now time.Time) {
	for _, ws := range t.webSeeds {
		ws.rate.add(ws.second)
		ws.second = 0
	}
	t.fillWebSeeds(now)
}

// onWebSeedFetched takes the blocks a fetch brought, as onBlock does a
// peer's, and rests a web seed that failed.
func (t *Torrent) onWebSeedFetched(ev webSeedFetched) {
	ws := ev.ws
	ws.inFlight--
	for i, b := range ev.blocks {
		t.webSeedBlock(ws, b, ev.data[i])
	}
	now := time.Now()
	if ev.err != nil {
		for _, b := range ev.missing {
			t.picker.Release(ws.key, b)
		}
		// Fetches in flight together fail together (a server without
		// Range fails all four): one failure rests the seed, the others
		// ending during that rest do not double it again.
		if !ws.banned && !now.Before(ws.retryAt) {
			ws.failures++
			wait := min(webSeedRetryMin<<min(ws.failures-1, 10), webSeedRetryMax)
			ws.retryAt, ws.lastErr = now.Add(wait), ev.err
			ws.key.log.Info().Err(ev.err).Dur("retry_in", wait).Msg("web seed failed")
		}
		for p := range t.peers {
			t.fillRequests(p)
		}
	} else if len(ev.blocks) > 0 && !ws.banned {
		ws.failures, ws.lastErr = 0, nil
	}
	t.fillWebSeeds(now)
}

// webSeedBlock handles one block from a web seed.
func (t *Torrent) webSeedBlock(ws *webSeed, b piece.Block, data []byte) {
	if ws.banned || !t.picker.Requested(ws.key, b) {
		t.wasted += int64(len(data)) // cancelled by endgame, or from a liar
		putBlock(data)
		return
	}
	n := int64(len(data))
	t.downloaded += n
	ws.got += n
	ws.second += n
	rc, err := t.picker.Received(ws.key, b)
	if err != nil || !rc.Accepted {
		t.wasted += n
		putBlock(data)
		return
	}
	for _, q := range rc.Cancel {
		if _, ok := t.peers[q]; ok {
			q.send(peer.Message{ID: peer.Cancel, Index: b.Piece, Begin: b.Begin, Length: b.Length})
		}
	}
	t.storeBlock(b, data, rc.Complete)
}

// banWebSeed bans p if it is a web seed's picker identity, and reports
// whether it was: its data failed the hash check of piece pc.
func (t *Torrent) banWebSeed(p *peerConn, pc int) bool {
	i := slices.IndexFunc(t.webSeeds, func(ws *webSeed) bool { return ws.key == p })
	if i < 0 {
		return false
	}
	ws := t.webSeeds[i]
	if ws.banned {
		return true
	}
	ws.banned = true
	ws.lastErr = fmt.Errorf("sent data that failed the hash check of piece %d", pc)
	t.wasted += t.picker.Discard(p)
	t.picker.PeerLeft(p)
	p.log.Warn().Int("piece", pc).Msg("web seed banned for this session: its data failed the hash check")
	for q := range t.peers {
		t.fillRequests(q)
	}
	return true
}

// isSource reports whether p still sends us data: a connected peer, or
// a web seed not banned. Parole applies to both.
func (t *Torrent) isSource(p *peerConn) bool {
	if _, ok := t.peers[p]; ok {
		return true
	}
	return slices.ContainsFunc(t.webSeeds, func(ws *webSeed) bool { return ws.key == p && !ws.banned })
}

// webSeedStats adds the web seeds to a stats snapshot.
func (t *Torrent) webSeedStats(st *Stats) {
	for _, ws := range t.webSeeds {
		s := WebSeedStats{URL: ws.url, Downloaded: ws.got, Banned: ws.banned}
		if ws.lastErr != nil {
			s.Err = ws.lastErr.Error()
		}
		st.WebSeeds = append(st.WebSeeds, s)
		st.DownRate += ws.rate.recent(recentWindow)
	}
}

// dropWebSeedFetched returns a fetch's buffers when the loop is stopping.
func dropWebSeedFetched(ev webSeedFetched) {
	for _, d := range ev.data {
		putBlock(d)
	}
}

// newWebClient returns the HTTP client of a torrent's web seeds: bounded
// headers and idle connections, and a time limit on the response header.
func newWebClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxResponseHeaderBytes = 64 << 10
	tr.MaxIdleConnsPerHost = webSeedFetches
	tr.ReadBufferSize = 64 << 10 // the default 4 KiB costs a syscall per 4 KiB
	tr.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: tr}
}
