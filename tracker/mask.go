package tracker

import (
	"errors"
	"net/url"
	"strings"
)

// MaskSecret returns a form of a secret (a passkey, as a client sent it,
// valid or not) fit for logs: its first 4 characters and "…", enough to tell
// users apart when debugging, far too few to announce with.
func MaskSecret(s string) string {
	if len(s) <= 4 {
		return "…"
	}
	return s[:4] + "…"
}

// MaskURL returns a tracker URL (or a bare path such as /PASSKEY/announce)
// fit for logs, status lines and error messages: every path segment that
// looks like a token (a run of 16 or more letters, digits, '-' or '_', as
// passkeys, auth keys and UUIDs are), every query value and any user info
// go through MaskSecret, so that a passkey in any of the places trackers put
// it (/PASSKEY/announce, /announce?passkey=PASSKEY, the path of a udp:// URL
// that BEP 41 carries) never shows, while names such as /tracker/announce.php
// or /files/album.torrent stay readable. The host and port stay.
// http://t.example/97770000…/announce becomes http://t.example/9777…/announce.
func MaskURL(raw string) string {
	raw, _, _ = strings.Cut(raw, "#")
	rest, query, hasQuery := strings.Cut(raw, "?")
	var b strings.Builder
	path := rest
	if scheme, after, ok := strings.Cut(rest, "://"); ok {
		host, p, hasPath := strings.Cut(after, "/")
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = "…@" + host[at+1:]
		}
		b.WriteString(scheme + "://" + host)
		path = ""
		if hasPath {
			path = "/" + p
		}
	}
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		if looksLikeToken(seg) {
			b.WriteString(MaskSecret(seg))
		} else {
			b.WriteString(seg)
		}
	}
	if hasQuery {
		b.WriteByte('?')
		for i, kv := range strings.Split(query, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				b.WriteString(MaskSecret(k)) // ?PASSKEY
				continue
			}
			b.WriteString(k + "=" + MaskSecret(v))
		}
	}
	return b.String()
}

// looksLikeToken reports whether a path segment holds a run of 16 or more
// characters of the kind secrets are made of. Shorter passkeys are rare
// (Gazelle, UNIT3D and swarm use 32); a long plain name is masked too, which
// costs readability only.
func looksLikeToken(seg string) bool {
	run := 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			if run++; run >= 16 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// StripURL returns err without the *url.Error around it, whose message
// (net/http's) holds the URL whole, passkey and query and all: the caller
// names the URL with MaskURL instead.
func StripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
