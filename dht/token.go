package dht

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"net/netip"
	"time"
)

// tokenLen is the length of the tokens we hand out; libtorrent uses 4
// bytes, 8 make guessing pointless.
const tokenLen = 8

// tokens issues and checks announce tokens (BEP 5): a token is a keyed hash
// of the asker's IP address and info hash under a secret that changes every
// period; tokens made under the current or the previous secret are accepted,
// so a token lives between one and two periods. Binding the info hash too,
// as libtorrent does, stops one token from announcing every torrent. Not
// safe for concurrent use; the Node guards it.
type tokens struct {
	period    time.Duration
	cur, prev [16]byte
	rotated   time.Time
}

func newTokens(period time.Duration, now time.Time) *tokens {
	t := &tokens{period: period, rotated: now}
	rand.Read(t.cur[:])
	rand.Read(t.prev[:])
	return t
}

// rotate brings the secrets up to date at now. After two or more periods
// both secrets are fresh, so every older token is refused.
func (t *tokens) rotate(now time.Time) {
	for i := 0; i < 2 && now.Sub(t.rotated) >= t.period; i++ {
		t.prev = t.cur
		rand.Read(t.cur[:])
		t.rotated = t.rotated.Add(t.period)
	}
	if now.Sub(t.rotated) >= t.period {
		t.rotated = now
	}
}

func (t *tokens) issue(ip netip.Addr, infoHash ID, now time.Time) string {
	t.rotate(now)
	return tokenFor(t.cur, ip, infoHash)
}

func (t *tokens) valid(tok string, ip netip.Addr, infoHash ID, now time.Time) bool {
	t.rotate(now)
	return hmac.Equal([]byte(tok), []byte(tokenFor(t.cur, ip, infoHash))) ||
		hmac.Equal([]byte(tok), []byte(tokenFor(t.prev, ip, infoHash)))
}

func tokenFor(secret [16]byte, ip netip.Addr, infoHash ID) string {
	m := hmac.New(sha1.New, secret[:])
	b, _ := ip.Unmap().MarshalBinary()
	m.Write(b)
	m.Write(infoHash[:])
	return string(m.Sum(nil)[:tokenLen])
}
