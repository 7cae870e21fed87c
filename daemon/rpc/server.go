// Package rpc speaks the Transmission RPC protocol (docs/rpc-spec.md of
// Transmission; rpc-version 17) over HTTP at /transmission/rpc, so that
// transmission-remote, Flood and the *arr applications drive a swarm
// daemon; and it is the client `swarm add`, `swarm list` and the others use.
//
// The server sees the daemon only through Backend, so its tests run
// without a network or a swarm. It guards the protocol's way: the
// X-Transmission-Session-Id handshake (a 409 carrying the id, against
// cross-site requests), HTTP Basic auth when a password is set, and, with
// no password, only Host headers naming an IP address or localhost (against
// DNS rebinding). Wrong passwords are limited per client address, open
// connections by LimitListener, request bodies by MaxBody. Handlers run on net/http's
// goroutines; Backend must be safe for concurrent use.
package rpc

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Path is where the RPC answers.
const Path = "/transmission/rpc"

// Version is the rpc-version we speak (Transmission 4.0's); Debian's
// transmission-remote 3.00 (rpc-version 16) accepts it.
const (
	Version        = 17
	VersionMinimum = 14
)

// DefaultMaxBody bounds a request: a torrent-add's base64 metainfo of a
// .torrent at metainfo's 32 MiB limit, and some.
const DefaultMaxBody = 48 << 20

// sessionHeader carries the CSRF token of the protocol.
const sessionHeader = "X-Transmission-Session-Id"

// Config configures a Server.
type Config struct {
	Backend Backend
	// User and Password, if Password is set, are required of every request
	// (HTTP Basic). Never logged.
	User, Password string
	// MaxBody bounds a request body in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// Logger receives a line per failed request; nil means none.
	Logger *zerolog.Logger
}

// Server answers the RPC.
type Server struct {
	cfg       Config
	log       zerolog.Logger
	sessionID string
	auth      authLimiter
}

// New makes a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("rpc: no Backend")
	}
	if cfg.MaxBody < 0 {
		return nil, errors.New("rpc: negative MaxBody")
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	var b [36]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: zerolog.Nop(), sessionID: base64.RawURLEncoding.EncodeToString(b[:]),
		auth: authLimiter{now: time.Now, by: map[netip.Prefix]*failWindow{}}}
	if cfg.Logger != nil {
		s.log = *cfg.Logger
	}
	return s, nil
}

// CheckListen refuses an RPC address off loopback without a password:
// anyone who reaches it could add torrents and delete data.
func CheckListen(addr, password string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--rpc %q: %w", addr, err)
	}
	if password != "" {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("--rpc %s is reachable from other machines: set --rpc-password (and --rpc-user), or listen on 127.0.0.1", addr)
	}
	return nil
}

// request and response are the protocol's envelopes.
type request struct {
	Method    string          `json:"method"`
	Arguments json.RawMessage `json:"arguments"`
	Tag       json.RawMessage `json:"tag,omitempty"`
}

type response struct {
	Result    string          `json:"result"`
	Arguments any             `json:"arguments"`
	Tag       json.RawMessage `json:"tag,omitempty"`
}

// ServeHTTP answers one RPC request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w, r) {
		return
	}
	w.Header().Set(sessionHeader, s.sessionID)
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(sessionHeader)), []byte(s.sessionID)) != 1 {
		http.Error(w, "409: Conflict: your request had an invalid session-id header; resend it with the "+sessionHeader+" header of this answer", http.StatusConflict)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "405: the RPC takes POST", http.StatusMethodNotAllowed)
		return
	}
	var req request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err := dec.Decode(&req); err != nil {
		status := http.StatusBadRequest
		if errors.As(err, new(*http.MaxBytesError)) {
			status = http.StatusRequestEntityTooLarge
		}
		writeJSON(w, status, response{Result: "bad request: " + err.Error(), Arguments: struct{}{}})
		return
	}
	args, err := s.call(r, req.Method, req.Arguments)
	resp := response{Result: "success", Arguments: args, Tag: req.Tag}
	if err != nil {
		resp.Result, resp.Arguments = err.Error(), struct{}{}
		s.log.Debug().Str("method", req.Method).Err(err).Msg("rpc: request failed")
	}
	if resp.Arguments == nil {
		resp.Arguments = struct{}{}
	}
	writeJSON(w, http.StatusOK, resp)
}

// admit applies the Host check and Basic auth (not the session id, which
// only the RPC needs) and answers the request itself when it fails.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) bool {
	w.Header().Set("Server", "swarm")
	if s.cfg.Password == "" && !localHost(r.Host) {
		http.Error(w, "421: Misdirected Request: set a --rpc-password to use this daemon by a host name other than localhost", http.StatusMisdirectedRequest)
		return false
	}
	if s.cfg.Password != "" {
		if no, wait := s.auth.blocked(r.RemoteAddr); no {
			w.Header().Set("Retry-After", retryAfter(wait))
			http.Error(w, "429: Too Many Requests: too many wrong passwords from your address; try again later", http.StatusTooManyRequests)
			return false
		}
		user, pass, ok := r.BasicAuth()
		// Both compared, always, and as hashes: ConstantTimeCompare
		// returns at once on a length mismatch, and || would skip the
		// password when the user is wrong; either would tell a guesser
		// something by the time taken.
		userOK, passOK := sameSecret(user, s.cfg.User), sameSecret(pass, s.cfg.Password)
		if !ok || !userOK || !passOK {
			w.Header().Set("WWW-Authenticate", `Basic realm="Transmission"`)
			http.Error(w, "401: Unauthorized", http.StatusUnauthorized)
			// A request without credentials is how a browser or curl
			// asks which scheme to use: not a guess.
			if ok && s.auth.fail(r.RemoteAddr) {
				s.log.Warn().Str("remote", r.RemoteAddr).Msg("rpc: wrong credentials (further ones from this address within a minute are not logged)")
			}
			return false
		}
	}
	return true
}

func sameSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// Guard serves h behind the RPC's Host check and auth: for the web page,
// which then calls the RPC with the same credentials.
func (s *Server) Guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.admit(w, r) {
			h.ServeHTTP(w, r)
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, status = []byte(`{"result":"internal error: cannot encode the answer","arguments":{}}`), http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(b)
}

// localHost says whether a Host header names this machine in a way DNS
// cannot rebind: an IP address or localhost.
func localHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "" || strings.EqualFold(host, "localhost") {
		return true
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}
