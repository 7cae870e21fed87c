package server

import (
	"crypto/subtle"
	"log"
	"net/http"
	"strings"

	"github.com/rs/zerolog"
)

// requireToken wraps h so that it answers only requests that carry
// "Authorization: Bearer TOKEN"; the others get 401. An empty token
// requires nothing.
func requireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !BearerTokenOK(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="swarm tracker"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// BearerTokenOK reports whether r carries "Authorization: Bearer TOKEN"
// with token, comparing in constant time so that the answer's timing says
// nothing about how much of a guess was right.
func BearerTokenOK(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// ErrorLog returns a logger for http.Server.ErrorLog that sends net/http's
// own lines (TLS handshake errors from scanners, accept retries) to l at
// Debug, as the tracker's server does: another listener in front of the
// tracker (an admin API) uses it.
func ErrorLog(l zerolog.Logger) *log.Logger { return log.New(debugWriter{l}, "", 0) }
