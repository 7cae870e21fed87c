package tracker

import (
	"errors"
	"net/url"
	"slices"
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

// minEchoedSecret is the shortest query value MaskEchoed looks for in a
// message: a shorter one would match ordinary words, and is no secret worth
// the name. Path segments and user info are secrets at any length MaskURL
// masks them.
const minEchoedSecret = 8

// MaskEchoed returns text that came back from the tracker at announceURL (a
// failure reason, a warning message, an HTTP status line) with the secrets
// of that URL replaced by their MaskSecret form wherever they appear, as
// written in the URL or unescaped: the token-like path segments and the
// user info MaskURL masks, and the query values of 8 or more characters.
// A tracker that echoes the request ("invalid passkey in /PASSKEY/announce")
// would otherwise have the client print the passkey in its logs and status
// line.
func MaskEchoed(announceURL, text string) string {
	var secrets []string
	add := func(s string) {
		secrets = append(secrets, s)
		if u, err := url.QueryUnescape(s); err == nil && u != s {
			secrets = append(secrets, u)
		}
	}
	raw, _, _ := strings.Cut(announceURL, "#")
	path, query, _ := strings.Cut(raw, "?")
	if _, after, ok := strings.Cut(path, "://"); ok {
		host, p, _ := strings.Cut(after, "/")
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			user, pass, _ := strings.Cut(host[:at], ":")
			for _, s := range []string{host[:at], user, pass} {
				if s != "" {
					add(s)
				}
			}
		}
		path = p
	}
	for _, seg := range strings.Split(path, "/") {
		if looksLikeToken(seg) {
			add(seg)
		}
	}
	for _, kv := range strings.Split(query, "&") {
		_, v, ok := strings.Cut(kv, "=")
		if !ok {
			v = kv // ?PASSKEY
		}
		if len(v) >= minEchoedSecret {
			add(v)
		}
	}
	// Longest first: a secret that holds another is masked whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		if len(s) > 4 { // MaskSecret of 4 bytes or fewer is "…": masking is no use
			text = strings.ReplaceAll(text, s, MaskSecret(s))
		}
	}
	return text
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
