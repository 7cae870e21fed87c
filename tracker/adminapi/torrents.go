package adminapi

import (
	"encoding/hex"
	"mime"
	"net/http"
	"time"

	"swarm/metainfo"
	"swarm/peer"
	"swarm/tracker/private"
)

// torrentJSON is a registered torrent with its totals over every user (as
// of the tracker's last fold, a minute at most) and its live peers.
type torrentJSON struct {
	private.TorrentStatsView
	// Warning says what an operator should know about a torrent just
	// registered from its file (not marked private).
	Warning string `json:"warning,omitempty"`
}

func torrentView(t private.Torrent, tot private.Totals, act private.Activity) torrentJSON {
	return torrentJSON{TorrentStatsView: private.ViewTorrentStats(t, tot, act)}
}

// peerJSON is one peer of a torrent.
type peerJSON struct {
	User   string `json:"user"` // "" if the user was deleted since
	IP     string `json:"ip"`
	Port   uint16 `json:"port"`
	Client string `json:"client"`  // from the peer id (BEP 20)
	PeerID string `json:"peer_id"` // hex
	// Uploaded, Downloaded and Left are the client's counters as it last
	// reported them, in bytes.
	Uploaded     int64     `json:"uploaded"`
	Downloaded   int64     `json:"downloaded"`
	Left         int64     `json:"left"`
	Seeder       bool      `json:"seeder"`
	LastAnnounce time.Time `json:"last_announce"`
}

// parseHash reads the {hash} path segment.
func parseHash(r *http.Request) (metainfo.Hash, error) {
	h, err := metainfo.ParseHash(r.PathValue("hash"))
	if err != nil {
		return h, badf("info hash: %v", err)
	}
	return h, nil
}

// GET /api/torrents: every registered torrent with totals and live peers.
func (a *API) listTorrents(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.cfg.DB.Torrents(r.Context())
	if err != nil {
		return err
	}
	totals, err := a.cfg.DB.TorrentTotals(r.Context())
	if err != nil {
		return err
	}
	byTorrent, _ := a.cfg.Live.Activity()
	out := make([]torrentJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, torrentView(t, totals[t.InfoHash], byTorrent[t.InfoHash]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// POST /api/torrents: register a torrent, from its .torrent file (the body
// itself with Content-Type application/x-bittorrent, or base64 in JSON) or
// by info hash.
func (a *API) registerTorrent(w http.ResponseWriter, r *http.Request) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	var (
		t private.Torrent
		m *metainfo.MetaInfo
	)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-bittorrent" {
		t, m, err = parseTorrent(body)
	} else {
		t, m, err = decodeTorrentRegister(body)
	}
	if err != nil {
		return err
	}
	if err := a.cfg.DB.AddTorrent(r.Context(), t); err != nil {
		return err
	}
	a.changed(r, "torrent "+t.InfoHash.String()+" registered")
	t, err = a.cfg.DB.Torrent(r.Context(), t.InfoHash)
	if err != nil {
		return err
	}
	v := torrentView(t, private.Totals{}, private.Activity{})
	if m != nil && !m.Info.Private {
		v.Warning = "not marked private (BEP 27): clients may also find peers through DHT and peer exchange"
	}
	w.Header().Set("Location", "/api/torrents/"+t.InfoHash.String())
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// GET /api/torrents/{hash}: one torrent with totals and live peer counts.
func (a *API) getTorrent(w http.ResponseWriter, r *http.Request) error {
	h, err := parseHash(r)
	if err != nil {
		return err
	}
	t, err := a.cfg.DB.Torrent(r.Context(), h)
	if err != nil {
		return err
	}
	totals, err := a.cfg.DB.TorrentTotals(r.Context())
	if err != nil {
		return err
	}
	byTorrent, _ := a.cfg.Live.Activity()
	writeJSON(w, http.StatusOK, torrentView(t, totals[h], byTorrent[h]))
	return nil
}

// DELETE /api/torrents/{hash}: unregister; users' totals on it are kept.
func (a *API) unregisterTorrent(w http.ResponseWriter, r *http.Request) error {
	h, err := parseHash(r)
	if err != nil {
		return err
	}
	if err := a.cfg.DB.RemoveTorrent(r.Context(), h); err != nil {
		return err
	}
	a.changed(r, "torrent "+h.String()+" unregistered")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GET /api/torrents/{hash}/peers: the torrent's live peers, seeders first.
func (a *API) torrentPeers(w http.ResponseWriter, r *http.Request) error {
	h, err := parseHash(r)
	if err != nil {
		return err
	}
	if _, err := a.cfg.DB.Torrent(r.Context(), h); err != nil {
		return err
	}
	users, err := a.cfg.DB.Users(r.Context())
	if err != nil {
		return err
	}
	names := make(map[int64]string, len(users))
	for _, u := range users {
		names[u.ID] = u.Name
	}
	peers := a.cfg.Live.Peers(h)
	out := make([]peerJSON, 0, len(peers))
	for _, p := range peers {
		out = append(out, peerJSON{User: names[p.UserID], IP: p.Addr.Addr().String(), Port: p.Addr.Port(),
			Client: peer.ClientName(p.PeerID), PeerID: hex.EncodeToString(p.PeerID[:]),
			Uploaded: p.Uploaded, Downloaded: p.Downloaded, Left: p.Left, Seeder: p.Left == 0,
			LastAnnounce: p.LastAnnounce.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
