package adminapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"swarm/tracker/private"
)

// The rules a site sets (tracker/private's rules.go, freeleech.go,
// hnr.go, cheat.go): client allow list, bans, torrent kinds and site-wide
// windows, and what the tracker reports back: hit-and-runs and cheat
// events.

// clientRequest is POST /api/clients.
type clientRequest struct {
	Prefix string `json:"prefix"`
}

// banRequest is POST /api/bans.
type banRequest struct {
	CIDR   string `json:"cidr"` // an address or a CIDR range
	Reason string `json:"reason,omitempty"`
}

// kindRequest is PATCH /api/torrents/{hash}.
type kindRequest struct {
	Kind string `json:"kind"` // normal, freeleech, neutral, double_upload
}

// windowJSON is a site-wide window, in requests and answers.
type windowJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Kind  string    `json:"kind"`
}

func decodeClient(body []byte) (string, error) {
	var req clientRequest
	if err := decodeJSON(body, &req); err != nil {
		return "", err
	}
	p, err := private.ParseClientPrefix(req.Prefix)
	if err != nil {
		return "", &badRequest{err.Error()}
	}
	return p, nil
}

func decodeBan(body []byte) (private.Ban, error) {
	var req banRequest
	if err := decodeJSON(body, &req); err != nil {
		return private.Ban{}, err
	}
	p, err := private.ParseBan(req.CIDR)
	if err != nil {
		return private.Ban{}, &badRequest{err.Error()}
	}
	if len(req.Reason) > 1024 {
		return private.Ban{}, badf("reason: want at most 1024 bytes")
	}
	return private.Ban{Prefix: p, Reason: req.Reason}, nil
}

func decodeKind(body []byte) (private.Kind, error) {
	var req kindRequest
	if err := decodeJSON(body, &req); err != nil {
		return 0, err
	}
	k, err := private.ParseKind(req.Kind)
	if err != nil {
		return 0, &badRequest{err.Error()}
	}
	return k, nil
}

func decodeWindow(body []byte) (private.FreeleechWindow, error) {
	var req windowJSON
	if err := decodeJSON(body, &req); err != nil {
		return private.FreeleechWindow{}, err
	}
	k, err := private.ParseKind(req.Kind)
	switch {
	case err != nil:
		return private.FreeleechWindow{}, &badRequest{err.Error()}
	case k == private.KindNormal:
		return private.FreeleechWindow{}, badf("kind: a window is freeleech, neutral or double_upload")
	case !req.End.After(req.Start):
		return private.FreeleechWindow{}, badf("end %v: want it after start %v", req.End, req.Start)
	}
	return private.FreeleechWindow{Start: req.Start, End: req.End, Kind: k}, nil
}

// GET /api/clients: the allow list (empty: every client may announce).
func (a *API) listClients(w http.ResponseWriter, r *http.Request) error {
	rules, err := a.cfg.DB.ClientRules(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nonNil(rules))
	return nil
}

// POST /api/clients: allow a peer id prefix.
func (a *API) allowClient(w http.ResponseWriter, r *http.Request) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	p, err := decodeClient(body)
	if err != nil {
		return err
	}
	if err := a.cfg.DB.AllowClient(r.Context(), p); err != nil {
		return err
	}
	a.changed(r, "client prefix "+strconv.Quote(p)+" allowed")
	writeJSON(w, http.StatusCreated, clientRequest{Prefix: p})
	return nil
}

// DELETE /api/clients/{prefix}: take a prefix off the list.
func (a *API) disallowClient(w http.ResponseWriter, r *http.Request) error {
	p := r.PathValue("prefix")
	if err := a.cfg.DB.DisallowClient(r.Context(), p); err != nil {
		return err
	}
	a.changed(r, "client prefix "+strconv.Quote(p)+" disallowed")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// banJSON is a ban as the API shows it.
type banJSON struct {
	CIDR   string    `json:"cidr"`
	Reason string    `json:"reason"`
	Added  time.Time `json:"added"`
}

// GET /api/bans.
func (a *API) listBans(w http.ResponseWriter, r *http.Request) error {
	bans, err := a.cfg.DB.Bans(r.Context())
	if err != nil {
		return err
	}
	out := make([]banJSON, 0, len(bans))
	for _, b := range bans {
		out = append(out, banJSON{CIDR: b.Prefix.String(), Reason: b.Reason, Added: b.Added.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// POST /api/bans: ban an address or a range.
func (a *API) addBan(w http.ResponseWriter, r *http.Request) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	b, err := decodeBan(body)
	if err != nil {
		return err
	}
	b.Added = time.Now().Truncate(time.Second)
	if err := a.cfg.DB.AddBan(r.Context(), b); err != nil {
		return err
	}
	a.changed(r, "ban "+b.Prefix.String()+" added")
	writeJSON(w, http.StatusCreated, banJSON{CIDR: b.Prefix.String(), Reason: b.Reason, Added: b.Added.UTC()})
	return nil
}

// DELETE /api/bans/{cidr...}: lift a ban (the range's slash is part of the
// path: /api/bans/192.0.2.0/24).
func (a *API) removeBan(w http.ResponseWriter, r *http.Request) error {
	p, err := private.ParseBan(r.PathValue("cidr"))
	if err != nil {
		return &badRequest{err.Error()}
	}
	if err := a.cfg.DB.RemoveBan(r.Context(), p); err != nil {
		return err
	}
	a.changed(r, "ban "+p.String()+" lifted")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// PATCH /api/torrents/{hash}: set how the torrent is credited.
func (a *API) setTorrentKind(w http.ResponseWriter, r *http.Request) error {
	h, err := parseHash(r)
	if err != nil {
		return err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	k, err := decodeKind(body)
	if err != nil {
		return err
	}
	if err := a.cfg.DB.SetTorrentKind(r.Context(), h, k); err != nil {
		return err
	}
	a.changed(r, "torrent "+h.String()+" set "+k.String())
	return a.getTorrent(w, r)
}

// GET /api/freeleech: the site-wide windows, past ones included.
func (a *API) listWindows(w http.ResponseWriter, r *http.Request) error {
	ws, err := a.cfg.DB.SiteFreeleech(r.Context())
	if err != nil {
		return err
	}
	out := make([]windowJSON, 0, len(ws))
	for _, fw := range ws {
		out = append(out, windowJSON{Start: fw.Start.UTC(), End: fw.End.UTC(), Kind: fw.Kind.String()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// POST /api/freeleech: add a window; DELETE /api/freeleech with the same
// body removes it.
func (a *API) addWindow(w http.ResponseWriter, r *http.Request) error {
	return a.changeWindow(w, r, true)
}

func (a *API) removeWindow(w http.ResponseWriter, r *http.Request) error {
	return a.changeWindow(w, r, false)
}

func (a *API) changeWindow(w http.ResponseWriter, r *http.Request, add bool) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	fw, err := decodeWindow(body)
	if err != nil {
		return err
	}
	view := windowJSON{Start: fw.Start.UTC(), End: fw.End.UTC(), Kind: fw.Kind.String()}
	if !add {
		if err := a.cfg.DB.RemoveSiteFreeleech(r.Context(), fw); err != nil {
			return err
		}
		a.changed(r, "site-wide "+view.Kind+" window removed")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := a.cfg.DB.AddSiteFreeleech(r.Context(), fw); err != nil {
		return err
	}
	a.changed(r, "site-wide "+view.Kind+" window added")
	writeJSON(w, http.StatusCreated, view)
	return nil
}

// userID reads the optional ?user=NAME of a list; 0 means every user.
func (a *API) userID(r *http.Request, q url.Values) (int64, error) {
	name := q.Get("user")
	if name == "" {
		return 0, nil
	}
	u, err := a.cfg.DB.User(r.Context(), name)
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}

// hnrJSON is one hit-and-run.
type hnrJSON struct {
	User        string    `json:"user"`
	InfoHash    string    `json:"info_hash"`
	Name        string    `json:"name"`
	Snatched    time.Time `json:"snatched"`
	SeedSeconds int64     `json:"seed_seconds"`
	WindowEnd   time.Time `json:"window_end"`
	Closed      bool      `json:"closed"`
}

// GET /api/hit-and-runs[?user=NAME][&closed=true][&seed_time=72h]: the
// snatches seeded less than seed_time (default 72 h) within the tracker's
// --hnr-window; closed=true keeps those whose window has ended.
func (a *API) hitAndRuns(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	hq := private.HnRQuery{SeedTime: private.DefaultHnRSeedTime, Window: a.cfg.HnRWindow}
	var err error
	if s := q.Get("closed"); s != "" {
		if hq.Closed, err = strconv.ParseBool(s); err != nil {
			return badf("closed: want true or false")
		}
	}
	if s := q.Get("seed_time"); s != "" {
		if hq.SeedTime, err = time.ParseDuration(s); err != nil || hq.SeedTime <= 0 {
			return badf("seed_time: want a positive duration such as 72h")
		}
	}
	if hq.UserID, err = a.userID(r, q); err != nil {
		return err
	}
	hs, err := a.cfg.DB.HitAndRuns(r.Context(), hq)
	if err != nil {
		return err
	}
	out := make([]hnrJSON, 0, len(hs))
	for _, h := range hs {
		out = append(out, hnrJSON{User: h.User, InfoHash: h.InfoHash.String(), Name: h.Name, Snatched: h.Snatched.UTC(),
			SeedSeconds: h.SeedSeconds, WindowEnd: h.WindowEnd.UTC(), Closed: h.Closed})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cheatJSON is one announce whose bytes were not credited.
type cheatJSON struct {
	User     string    `json:"user"`
	InfoHash string    `json:"info_hash"`
	Kind     string    `json:"kind"`
	Claimed  int64     `json:"claimed"`
	At       time.Time `json:"at"`
	IP       string    `json:"ip"`
}

// GET /api/cheats[?user=NAME][&since=RFC3339][&limit=N]: newest first, 1000
// at most unless limit says fewer.
func (a *API) cheats(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var cq private.CheatQuery
	var err error
	if cq.UserID, err = a.userID(r, q); err != nil {
		return err
	}
	if s := q.Get("since"); s != "" {
		if cq.Since, err = time.Parse(time.RFC3339, s); err != nil {
			return badf("since: want an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
	}
	if s := q.Get("limit"); s != "" {
		if cq.Limit, err = strconv.Atoi(s); err != nil || cq.Limit < 1 || cq.Limit > 1000 {
			return badf("limit: want 1 to 1000")
		}
	}
	evs, err := a.cfg.DB.CheatEvents(r.Context(), cq)
	if err != nil {
		return err
	}
	out := make([]cheatJSON, 0, len(evs))
	for _, e := range evs {
		ip := ""
		if e.IP.IsValid() {
			ip = e.IP.String()
		}
		out = append(out, cheatJSON{User: e.User, InfoHash: e.InfoHash.String(), Kind: string(e.Kind),
			Claimed: e.Claimed, At: e.At.UTC(), IP: ip})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// nonNil returns s, or an empty slice for nil, so that JSON says [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
