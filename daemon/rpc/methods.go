package rpc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"swarm/daemon"
)

// Backend is what the RPC drives: *daemon.Daemon.
type Backend interface {
	Add(ctx context.Context, req daemon.AddRequest) (daemon.Added, error)
	Resume(ids []int, now bool) error
	Pause(ids []int) error
	Verify(ids []int) error
	Remove(ids []int, deleteData bool) error
	SetLocation(ids []int, dir string, move bool) error
	Set(ids []int, c daemon.Change) error
	QueueMove(ids []int, where string) error
	Torrents(ids []int, recent bool) ([]daemon.View, []int, error)
	ResolveHash(hash string) (int, bool)
	// Known keeps the ids the daemon has, in order.
	Known(ids []int) []int
	Settings() daemon.Settings
	SetSettings(change func(*daemon.Settings)) error
	Stats() daemon.SessionStats
	// PeerPort is the port peers connect to.
	PeerPort() int
	// ConfigDir is the state folder.
	ConfigDir() string
	// Reannounce asks the torrents' trackers for peers now.
	Reannounce(ids []int) error
	// Close stops the daemon gracefully, as SIGTERM does, without waiting.
	Close()
}

// kilo is the protocol's unit of speed: kB/s of 1000 bytes ("speed-bytes").
const kilo = 1000

// handler answers one method from its raw arguments.
type handler func(s *Server, r *http.Request, args json.RawMessage) (any, error)

// methods is the protocol's method table; an unknown method gets an error
// result naming it.
var methods = map[string]handler{
	"session-get":          sessionGet,
	"session-set":          sessionSet,
	"session-stats":        sessionStats,
	"torrent-get":          torrentGet,
	"torrent-add":          torrentAdd,
	"torrent-start":        startMethod(false),
	"torrent-start-now":    startMethod(true),
	"torrent-stop":         idsMethod(func(b Backend, ids []int) error { return b.Pause(ids) }),
	"torrent-verify":       idsMethod(func(b Backend, ids []int) error { return b.Verify(ids) }),
	"torrent-reannounce":   idsMethod(func(b Backend, ids []int) error { return b.Reannounce(ids) }),
	"session-close":        sessionClose,
	"torrent-remove":       torrentRemove,
	"torrent-set":          torrentSet,
	"torrent-set-location": torrentSetLocation,
	"queue-move-top":       queueMethod("top"),
	"queue-move-up":        queueMethod("up"),
	"queue-move-down":      queueMethod("down"),
	"queue-move-bottom":    queueMethod("bottom"),
	"free-space":           freeSpace,
	"port-test":            portTest,
}

// maxArgs bounds the arguments of every method but torrent-add (whose
// base64 metainfo needs up to MaxBody): enough for a file list of
// metainfo.MaxFiles indexes. Decoding JSON into Go values takes many times
// its size (46 MB of "ids" made the daemon's RSS 1.6 GB), so the whole
// body's limit is too much for the others.
const maxArgs = 8 << 20

func (s *Server) call(r *http.Request, method string, args json.RawMessage) (any, error) {
	h, ok := methods[method]
	if !ok {
		return nil, fmt.Errorf("method name not recognized: %q", method)
	}
	if method != "torrent-add" && len(args) > maxArgs {
		return nil, fmt.Errorf("%s: arguments of %d bytes, more than %d", method, len(args), maxArgs)
	}
	if len(bytes.TrimSpace(args)) == 0 || bytes.Equal(bytes.TrimSpace(args), []byte("null")) {
		args = json.RawMessage("{}")
	}
	return h(s, r, args)
}

// decode reads args into v; unknown fields are ignored, as Transmission
// does.
func decode(args json.RawMessage, v any) error {
	if err := json.Unmarshal(args, v); err != nil {
		return fmt.Errorf("invalid arguments: %v", err)
	}
	return nil
}

// idsArg is the "ids" argument: absent (all), a number, a hash, a list of
// numbers and hashes, or "recently-active".
type idsArg struct {
	IDs json.RawMessage `json:"ids"`
}

var hashRE = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// resolve turns "ids" into daemon ids: nil means all; recent is set for
// "recently-active". Unknown hashes are left out, as Transmission does.
func (s *Server) resolve(raw json.RawMessage) (ids []int, recent bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, false, nil
	}
	var one any
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, false, fmt.Errorf("invalid ids: %v", err)
	}
	list, ok := one.([]any)
	if !ok {
		if s, ok := one.(string); ok && s == "recently-active" {
			return nil, true, nil
		}
		list = []any{one}
	}
	ids = []int{}
	for _, x := range list {
		switch x := x.(type) {
		case float64:
			if x != float64(int(x)) || x < 0 {
				return nil, false, fmt.Errorf("invalid id %v", x)
			}
			ids = append(ids, int(x))
		case string:
			if !hashRE.MatchString(x) {
				return nil, false, fmt.Errorf("invalid id %q: want a number or an info hash", x)
			}
			if id, ok := s.cfg.Backend.ResolveHash(strings.ToLower(x)); ok {
				ids = append(ids, id)
			}
		default:
			return nil, false, fmt.Errorf("invalid id %v", x)
		}
	}
	return ids, false, nil
}

// known keeps the ids the backend has: Transmission skips unknown ids
// rather than failing the whole request.
func (s *Server) known(ids []int) []int {
	if ids == nil {
		return nil
	}
	return s.cfg.Backend.Known(ids)
}

func (s *Server) idsOf(args json.RawMessage) ([]int, error) {
	var a idsArg
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	ids, recent, err := s.resolve(a.IDs)
	if err != nil {
		return nil, err
	}
	if recent {
		vs, _, err := s.cfg.Backend.Torrents(nil, true)
		if err != nil {
			return nil, err
		}
		ids = []int{}
		for _, v := range vs {
			ids = append(ids, v.ID)
		}
	}
	return s.known(ids), nil
}

func idsMethod(f func(Backend, []int) error) handler {
	return func(s *Server, _ *http.Request, args json.RawMessage) (any, error) {
		ids, err := s.idsOf(args)
		if err != nil {
			return nil, err
		}
		if ids != nil && len(ids) == 0 {
			return nil, nil
		}
		return nil, f(s.cfg.Backend, ids)
	}
}

// sessionClose stops the daemon; the answer still goes out, as the HTTP
// server finishes the requests in flight when the daemon stops.
func sessionClose(s *Server, _ *http.Request, _ json.RawMessage) (any, error) {
	s.cfg.Backend.Close()
	return nil, nil
}

func startMethod(now bool) handler {
	return idsMethod(func(b Backend, ids []int) error { return b.Resume(ids, now) })
}

func queueMethod(where string) handler {
	return idsMethod(func(b Backend, ids []int) error { return b.QueueMove(ids, where) })
}

func torrentRemove(s *Server, _ *http.Request, args json.RawMessage) (any, error) {
	var a struct {
		Delete bool `json:"delete-local-data"`
	}
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	return idsMethod(func(b Backend, ids []int) error { return b.Remove(ids, a.Delete) })(s, nil, args)
}

func torrentSetLocation(s *Server, _ *http.Request, args json.RawMessage) (any, error) {
	var a struct {
		Location string `json:"location"`
		Move     bool   `json:"move"`
	}
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	if a.Location == "" {
		return nil, errors.New("torrent-set-location: no location")
	}
	return idsMethod(func(b Backend, ids []int) error { return b.SetLocation(ids, a.Location, a.Move) })(s, nil, args)
}

func torrentAdd(s *Server, r *http.Request, args json.RawMessage) (any, error) {
	var a struct {
		Filename    string `json:"filename"`
		Metainfo    string `json:"metainfo"`
		DownloadDir string `json:"download-dir"`
		Paused      *bool  `json:"paused"`
		Unwanted    []int  `json:"files-unwanted"`
	}
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	req := daemon.AddRequest{Source: a.Filename, Dir: a.DownloadDir, Unwanted: a.Unwanted}
	if a.Paused != nil {
		req.Paused, req.Start = *a.Paused, !*a.Paused
	}
	if a.Metainfo != "" {
		b, err := base64.StdEncoding.DecodeString(a.Metainfo)
		if err != nil {
			return nil, fmt.Errorf("invalid or corrupt torrent file: metainfo is not base64: %v", err)
		}
		req.Torrent = b
	} else if a.Filename == "" {
		return nil, errors.New("no filename or metainfo specified")
	}
	added, err := s.cfg.Backend.Add(r.Context(), req)
	if errors.Is(err, daemon.ErrBadInput) {
		return nil, fmt.Errorf("invalid or corrupt torrent file: %v", err)
	}
	if err != nil {
		return nil, err
	}
	key := "torrent-added"
	if added.Duplicate {
		key = "torrent-duplicate"
	}
	return map[string]any{key: map[string]any{"id": added.ID, "name": added.Name, "hashString": added.Hash}}, nil
}

func torrentSet(s *Server, _ *http.Request, args json.RawMessage) (any, error) {
	var a struct {
		DownloadLimit   *int64   `json:"downloadLimit"`
		DownloadLimited *bool    `json:"downloadLimited"`
		UploadLimit     *int64   `json:"uploadLimit"`
		UploadLimited   *bool    `json:"uploadLimited"`
		Wanted          []int    `json:"files-wanted"`
		Unwanted        []int    `json:"files-unwanted"`
		High            []int    `json:"priority-high"`
		Low             []int    `json:"priority-low"`
		Normal          []int    `json:"priority-normal"`
		SeedRatioLimit  *float64 `json:"seedRatioLimit"`
		SeedRatioMode   *int     `json:"seedRatioMode"`
		SeedIdleLimit   *int     `json:"seedIdleLimit"`
		SeedIdleMode    *int     `json:"seedIdleMode"`
		QueuePosition   *int     `json:"queuePosition"`
		Labels          []string `json:"labels"`
	}
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	c := daemon.Change{
		DownLimited: a.DownloadLimited, UpLimited: a.UploadLimited,
		Wanted: a.Wanted, Unwanted: a.Unwanted,
		PriorityHigh: a.High, PriorityLow: a.Low, PriorityNormal: a.Normal,
		SeedRatio: a.SeedRatioLimit, SeedRatioMode: a.SeedRatioMode,
		SeedIdle: a.SeedIdleLimit, SeedIdleMode: a.SeedIdleMode,
		QueuePosition: a.QueuePosition, Labels: a.Labels,
	}
	for _, kb := range []struct {
		in  *int64
		out **int64
	}{{a.DownloadLimit, &c.DownLimit}, {a.UploadLimit, &c.UpLimit}} {
		if kb.in != nil {
			if *kb.in < 0 {
				return nil, errors.New("negative speed limit")
			}
			v := *kb.in * kilo
			*kb.out = &v
		}
	}
	for _, m := range []*int{a.SeedRatioMode, a.SeedIdleMode} {
		if m != nil && (*m < 0 || *m > 2) {
			return nil, fmt.Errorf("invalid mode %d: want 0 (global), 1 (single) or 2 (unlimited)", *m)
		}
	}
	return idsMethod(func(b Backend, ids []int) error { return b.Set(ids, c) })(s, nil, args)
}

func sessionGet(s *Server, _ *http.Request, _ json.RawMessage) (any, error) {
	b := s.cfg.Backend
	st := b.Settings()
	free, _ := daemon.FreeSpace(st.DownloadDir)
	return map[string]any{
		"version":                    "4.0.0 (swarm " + daemon.Version + ")",
		"rpc-version":                Version,
		"rpc-version-minimum":        VersionMinimum,
		"rpc-version-semver":         "5.3.0",
		"session-id":                 s.sessionID,
		"config-dir":                 b.ConfigDir(),
		"download-dir":               st.DownloadDir,
		"download-dir-free-space":    free,
		"peer-port":                  b.PeerPort(),
		"peer-port-random-on-start":  false,
		"port-forwarding-enabled":    false,
		"speed-limit-down":           st.SpeedLimitDown / kilo,
		"speed-limit-down-enabled":   st.SpeedLimitDownEnabled,
		"speed-limit-up":             st.SpeedLimitUp / kilo,
		"speed-limit-up-enabled":     st.SpeedLimitUpEnabled,
		"alt-speed-down":             st.AltSpeedDown / kilo,
		"alt-speed-up":               st.AltSpeedUp / kilo,
		"alt-speed-enabled":          st.AltSpeedEnabled,
		"alt-speed-time-enabled":     false,
		"alt-speed-time-begin":       540,
		"alt-speed-time-end":         1020,
		"alt-speed-time-day":         127,
		"download-queue-size":        st.DownloadQueueSize,
		"download-queue-enabled":     st.DownloadQueueEnabled,
		"seed-queue-size":            st.SeedQueueSize,
		"seed-queue-enabled":         st.SeedQueueEnabled,
		"queue-stalled-enabled":      false,
		"queue-stalled-minutes":      30,
		"seedRatioLimit":             st.SeedRatioLimit,
		"seedRatioLimited":           st.SeedRatioLimited,
		"idle-seeding-limit":         st.IdleSeedingLimit,
		"idle-seeding-limit-enabled": st.IdleSeedingLimitEnabled,
		"start-added-torrents":       st.StartAddedTorrents,
		"dht-enabled":                st.DHT,
		// Not in the protocol: the page shows it when present.
		"dht-nodes":                    st.DHTNodes,
		"pex-enabled":                  true,
		"lpd-enabled":                  false,
		"utp-enabled":                  true,
		"encryption":                   "tolerated",
		"blocklist-enabled":            false,
		"blocklist-size":               0,
		"blocklist-url":                "",
		"cache-size-mb":                0,
		"incomplete-dir":               st.DownloadDir,
		"incomplete-dir-enabled":       false,
		"rename-partial-files":         false,
		"trash-original-torrent-files": false,
		"script-torrent-done-enabled":  false,
		"script-torrent-done-filename": "",
		"peer-limit-global":            200,
		"peer-limit-per-torrent":       50,
		"units": map[string]any{
			"speed-units": []string{"kB/s", "MB/s", "GB/s", "TB/s"}, "speed-bytes": kilo,
			"size-units": []string{"kB", "MB", "GB", "TB"}, "size-bytes": kilo,
			"memory-units": []string{"KiB", "MiB", "GiB", "TiB"}, "memory-bytes": 1024,
		},
	}, nil
}

func sessionSet(s *Server, _ *http.Request, args json.RawMessage) (any, error) {
	var a struct {
		SpeedDown        *int64   `json:"speed-limit-down"`
		SpeedDownEnabled *bool    `json:"speed-limit-down-enabled"`
		SpeedUp          *int64   `json:"speed-limit-up"`
		SpeedUpEnabled   *bool    `json:"speed-limit-up-enabled"`
		AltDown          *int64   `json:"alt-speed-down"`
		AltUp            *int64   `json:"alt-speed-up"`
		AltEnabled       *bool    `json:"alt-speed-enabled"`
		DownloadDir      *string  `json:"download-dir"`
		DownQueue        *int     `json:"download-queue-size"`
		DownQueueEnabled *bool    `json:"download-queue-enabled"`
		SeedQueue        *int     `json:"seed-queue-size"`
		SeedQueueEnabled *bool    `json:"seed-queue-enabled"`
		Ratio            *float64 `json:"seedRatioLimit"`
		RatioEnabled     *bool    `json:"seedRatioLimited"`
		Idle             *int     `json:"idle-seeding-limit"`
		IdleEnabled      *bool    `json:"idle-seeding-limit-enabled"`
		StartAdded       *bool    `json:"start-added-torrents"`
	}
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	kb := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v * kilo
		}
	}
	return nil, s.cfg.Backend.SetSettings(func(st *daemon.Settings) {
		kb(&st.SpeedLimitDown, a.SpeedDown)
		kb(&st.SpeedLimitUp, a.SpeedUp)
		kb(&st.AltSpeedDown, a.AltDown)
		kb(&st.AltSpeedUp, a.AltUp)
		set(&st.SpeedLimitDownEnabled, a.SpeedDownEnabled)
		set(&st.SpeedLimitUpEnabled, a.SpeedUpEnabled)
		set(&st.AltSpeedEnabled, a.AltEnabled)
		set(&st.DownloadDir, a.DownloadDir)
		set(&st.DownloadQueueSize, a.DownQueue)
		set(&st.DownloadQueueEnabled, a.DownQueueEnabled)
		set(&st.SeedQueueSize, a.SeedQueue)
		set(&st.SeedQueueEnabled, a.SeedQueueEnabled)
		set(&st.SeedRatioLimit, a.Ratio)
		set(&st.SeedRatioLimited, a.RatioEnabled)
		set(&st.IdleSeedingLimit, a.Idle)
		set(&st.IdleSeedingLimitEnabled, a.IdleEnabled)
		set(&st.StartAddedTorrents, a.StartAdded)
	})
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func sessionStats(s *Server, _ *http.Request, _ json.RawMessage) (any, error) {
	st := s.cfg.Backend.Stats()
	run := map[string]any{
		"uploadedBytes": st.Uploaded, "downloadedBytes": st.Downloaded,
		"filesAdded": st.Added, "sessionCount": 1, "secondsActive": st.Seconds,
	}
	return map[string]any{
		"activeTorrentCount": st.Active,
		"pausedTorrentCount": st.Paused,
		"torrentCount":       st.Torrents,
		"downloadSpeed":      int64(st.DownRate),
		"uploadSpeed":        int64(st.UpRate),
		"current-stats":      run,
		// Totals across runs are not kept yet: this run's, as a daemon
		// started once would show.
		"cumulative-stats": run,
	}, nil
}

func freeSpace(s *Server, _ *http.Request, args json.RawMessage) (any, error) {
	var a struct {
		Path string `json:"path"`
	}
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	if a.Path == "" {
		return nil, errors.New("free-space: no path")
	}
	n, err := daemon.FreeSpace(a.Path)
	if err != nil {
		return nil, fmt.Errorf("free-space of %s: %v", a.Path, err)
	}
	return map[string]any{"path": a.Path, "size-bytes": n}, nil
}

// portTest answers honestly: finding out whether peers can reach our port
// takes a service outside this machine, and swarm asks none.
func portTest(*Server, *http.Request, json.RawMessage) (any, error) {
	return nil, errors.New("port-test: swarm cannot test its peer port from here; it asks no outside service")
}
