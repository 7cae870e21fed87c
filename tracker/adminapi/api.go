package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
	"swarm/tracker/private"
	"swarm/tracker/server"
)

// DefaultMaxBody bounds a request body (Config.MaxBody): a .torrent file
// of 8 MiB lists 400,000 pieces.
const DefaultMaxBody = 8 << 20

// Live is what the API reads from the running tracker rather than the
// database: the swarms as they are now. *private.Tracker implements it.
type Live interface {
	Peers(h metainfo.Hash) []private.Peer
	Activity() (map[metainfo.Hash]private.Activity, map[int64]private.Activity)
	// Reload makes the tracker read the database now; the API calls it
	// after a change and before its answer.
	Reload(ctx context.Context) error
}

// Config configures the API.
type Config struct {
	// DB is the tracker's database; required. The API does not close it.
	DB *private.DB
	// Live is the running tracker; required.
	Live Live
	// Token is the bearer token every request must carry
	// ("Authorization: Bearer TOKEN"); empty means none (serve on loopback
	// only, then).
	Token string
	// Metrics, if not nil, is served at GET /metrics behind the token.
	Metrics http.Handler
	// HnRWindow is the tracker's private.Config.HnRWindow, which the
	// hit-and-run list is counted over; 0 means private.DefaultHnRWindow.
	HnRWindow time.Duration
	// MaxBody bounds a request body in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// Logger receives a line per change made and internal errors; nil
	// means no logging. Request bodies (passkeys) and the token are never
	// logged.
	Logger *zerolog.Logger
}

// API is the admin API's HTTP handler.
type API struct {
	cfg Config
	log zerolog.Logger
	mux *http.ServeMux
}

// New checks cfg and returns the API.
func New(cfg Config) (*API, error) {
	switch {
	case cfg.DB == nil || cfg.Live == nil:
		return nil, errors.New("new admin API: no database or tracker")
	case cfg.MaxBody < 0:
		return nil, fmt.Errorf("new admin API: max body %d: want 0 (the default) or more", cfg.MaxBody)
	case cfg.HnRWindow < 0:
		return nil, fmt.Errorf("new admin API: hit-and-run window %v: want 0 (the default) or more", cfg.HnRWindow)
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.HnRWindow == 0 {
		cfg.HnRWindow = private.DefaultHnRWindow
	}
	a := &API{cfg: cfg, log: zerolog.Nop(), mux: http.NewServeMux()}
	if cfg.Logger != nil {
		a.log = *cfg.Logger
	}
	for pattern, h := range map[string]func(http.ResponseWriter, *http.Request) error{
		"GET /api/users":                 a.listUsers,
		"POST /api/users":                a.createUser,
		"GET /api/users/{name}":          a.getUser,
		"PATCH /api/users/{name}":        a.patchUser,
		"DELETE /api/users/{name}":       a.deleteUser,
		"POST /api/users/{name}/passkey": a.resetPasskey,
		"GET /api/torrents":              a.listTorrents,
		"POST /api/torrents":             a.registerTorrent,
		"GET /api/torrents/{hash}":       a.getTorrent,
		"DELETE /api/torrents/{hash}":    a.unregisterTorrent,
		"GET /api/torrents/{hash}/peers": a.torrentPeers,
		"PATCH /api/torrents/{hash}":     a.setTorrentKind,
		"GET /api/clients":               a.listClients,
		"POST /api/clients":              a.allowClient,
		"DELETE /api/clients/{prefix}":   a.disallowClient,
		"GET /api/bans":                  a.listBans,
		"POST /api/bans":                 a.addBan,
		"DELETE /api/bans/{cidr...}":     a.removeBan,
		"GET /api/freeleech":             a.listWindows,
		"POST /api/freeleech":            a.addWindow,
		"DELETE /api/freeleech":          a.removeWindow,
		"GET /api/hit-and-runs":          a.hitAndRuns,
		"GET /api/cheats":                a.cheats,
	} {
		a.mux.HandleFunc(pattern, a.wrap(h))
	}
	if cfg.Metrics != nil {
		a.mux.Handle("GET /metrics", cfg.Metrics)
	}
	return a, nil
}

// ServeHTTP checks the token, then routes. The mux's own answers (404, 405)
// come out as JSON errors too.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Token != "" && !server.BearerTokenOK(r, a.cfg.Token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="swarm tracker admin"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	if a.cfg.Token == "" && !fromLocalTool(r) {
		writeError(w, http.StatusForbidden, "without a token the admin API answers only requests to localhost or a loopback address, and none from a browser's page (Origin)")
		return
	}
	if _, pattern := a.mux.Handler(r); pattern == "" {
		w = &jsonErrors{ResponseWriter: w}
	}
	a.mux.ServeHTTP(w, r)
}

// fromLocalTool reports whether r, to an API without a token, comes from a
// tool on this machine rather than a web page the admin has open: any site
// may make the browser post to a loopback address (it sends Origin) or
// resolve its own name to 127.0.0.1 (DNS rebinding: Host is its name).
// Browsers cannot send a bearer token across sites, so with one neither
// matters.
func fromLocalTool(r *http.Request) bool {
	if r.Header.Get("Origin") != "" {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// wrap turns a handler that returns an error into an http.HandlerFunc: a
// badRequest is answered 400, private.ErrNotFound 404, private.ErrExists
// 409, a body too large 413, anything else 500 with a generic message (the
// detail, which may hold SQL, goes to the log only). A panic is answered
// 500 too.
func (a *API) wrap(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error().Interface("panic", v).Str("method", r.Method).Str("path", r.URL.Path).Msg("admin API handler panicked")
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		if r.Method != http.MethodGet {
			w = &reloadFirst{ResponseWriter: w, reload: a.reload, ctx: r.Context()}
		}
		err := h(w, r)
		var (
			bad     *badRequest
			tooBig  *http.MaxBytesError
			code    int
			message string
		)
		switch {
		case err == nil:
			return
		case errors.As(err, &bad):
			code, message = http.StatusBadRequest, bad.msg
		case errors.As(err, &tooBig):
			code, message = http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooBig.Limit)
		case errors.Is(err, private.ErrNotFound):
			code, message = http.StatusNotFound, err.Error()
		case errors.Is(err, private.ErrExists):
			code, message = http.StatusConflict, err.Error()
		default:
			a.log.Error().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("admin API request failed")
			code, message = http.StatusInternalServerError, "internal error"
		}
		writeError(w, code, message)
	}
}

// readBody reads the request body, at most Config.MaxBody bytes.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	if err != nil && !errors.As(err, &tooBig) {
		return nil, badf("read request body: %v", err)
	}
	return body, err
}

// changed logs a change made through the API.
func (a *API) changed(r *http.Request, what string) {
	a.log.Info().Str("method", r.Method).Str("path", r.URL.Path).Str("remote", r.RemoteAddr).Msg("admin API: " + what)
}

// errorBody is every error's JSON: a message for people, nothing else.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, message string) {
	writeJSON(w, code, errorBody{message})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only types of this package are written
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// jsonErrors replaces the text body of the mux's own error answers (404,
// 405 with its Allow header) with a JSON error.
type jsonErrors struct {
	http.ResponseWriter
	replaced bool
}

func (j *jsonErrors) WriteHeader(code int) {
	if code < 400 {
		j.ResponseWriter.WriteHeader(code)
		return
	}
	j.replaced = true
	j.Header().Del("X-Content-Type-Options")
	writeError(j.ResponseWriter, code, strings.ToLower(http.StatusText(code)))
}

func (j *jsonErrors) Write(b []byte) (int, error) {
	if j.replaced {
		return len(b), nil
	}
	return j.ResponseWriter.Write(b)
}

// reloadTimeout bounds the wait for the tracker's reload before an answer:
// the change is committed either way, and the tracker's own check of the
// database finds it within a second.
const reloadTimeout = 2 * time.Second

// reload asks the running tracker to read the change just committed.
func (a *API) reload(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	defer cancel()
	if err := a.cfg.Live.Reload(ctx); err != nil {
		a.log.Warn().Err(err).Msg("admin API: the tracker did not reload after a change; it will within a second")
	}
}

// reloadFirst is the ResponseWriter of a request that may change the
// database: before a success is answered, the tracker reloads, so that
// what the answer confirms is what announces see.
type reloadFirst struct {
	http.ResponseWriter
	reload func(context.Context)
	ctx    context.Context
	done   bool
}

func (w *reloadFirst) WriteHeader(code int) {
	if !w.done {
		w.done = true
		if code < 300 {
			w.reload(w.ctx)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *reloadFirst) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
