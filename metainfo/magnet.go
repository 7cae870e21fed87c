package metainfo

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// maxMagnetLen bounds the magnet links ParseMagnet reads.
const maxMagnetLen = 64 << 10

// Magnet is a magnet link (BEP 9): enough to find a torrent's peers and
// fetch its info dictionary from them.
type Magnet struct {
	InfoHash Hash
	// Name is the display name (dn), a hint only.
	Name string
	// Trackers are the tr parameters, in order.
	Trackers []string
	// Peers are the x.pe parameters as host:port.
	Peers []string
	// WebSeeds are the ws parameters (BEP 19).
	WebSeeds []string
}

// ParseMagnet parses a magnet link with a v1 (btih) exact topic, in hex or
// base32. A hybrid torrent's link also carries a v2 (btmh) topic, which is
// ignored: the torrent is fetched and shared through its v1 hash. Unknown
// parameters are ignored.
func ParseMagnet(s string) (Magnet, error) {
	var m Magnet
	if len(s) > maxMagnetLen {
		return m, fmt.Errorf("magnet link longer than %d bytes", maxMagnetLen)
	}
	rest, ok := strings.CutPrefix(s, "magnet:?")
	if !ok {
		return m, errors.New("magnet link must start with \"magnet:?\"")
	}
	q, err := url.ParseQuery(rest)
	if err != nil {
		return m, fmt.Errorf("magnet link: %w", err)
	}
	found, v2 := false, false
	for _, xt := range q["xt"] {
		h, ok := strings.CutPrefix(xt, "urn:btih:")
		if !ok {
			v2 = v2 || strings.HasPrefix(xt, "urn:btmh:")
			continue
		}
		hash, err := ParseHash(h)
		if err != nil {
			return m, fmt.Errorf("magnet link xt: %w", err)
		}
		if found && hash != m.InfoHash {
			return m, errors.New("magnet link has two different btih info hashes")
		}
		m.InfoHash, found = hash, true
	}
	if !found {
		if v2 {
			return m, errors.New("magnet link has only a v2 (btmh) hash: v2-only torrents are not supported yet (hybrid ones with a btih are)")
		}
		return m, errors.New("magnet link has no xt=urn:btih: info hash")
	}
	if dn := q["dn"]; len(dn) > 0 {
		m.Name = dn[0]
	}
	for _, tr := range q["tr"] {
		if tr != "" {
			m.Trackers = append(m.Trackers, tr)
		}
	}
	for _, pe := range q["x.pe"] {
		if _, err := netip.ParseAddrPort(pe); err != nil {
			if host, port, ok := strings.Cut(pe, ":"); !ok || host == "" || port == "" {
				return m, fmt.Errorf("magnet link x.pe %q: want host:port", pe)
			}
		}
		m.Peers = append(m.Peers, pe)
	}
	for _, ws := range q["ws"] {
		if ws != "" {
			m.WebSeeds = append(m.WebSeeds, ws)
		}
	}
	return m, nil
}

// String formats the magnet link with a hex info hash.
func (m Magnet) String() string {
	var b strings.Builder
	b.WriteString("magnet:?xt=urn:btih:")
	b.WriteString(m.InfoHash.String())
	if m.Name != "" {
		b.WriteString("&dn=")
		b.WriteString(url.QueryEscape(m.Name))
	}
	for _, tr := range m.Trackers {
		b.WriteString("&tr=")
		b.WriteString(url.QueryEscape(tr))
	}
	for _, ws := range m.WebSeeds {
		b.WriteString("&ws=")
		b.WriteString(url.QueryEscape(ws))
	}
	for _, pe := range m.Peers {
		b.WriteString("&x.pe=")
		b.WriteString(url.QueryEscape(pe))
	}
	return b.String()
}
