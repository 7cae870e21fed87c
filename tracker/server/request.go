package server

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"swarm/metainfo"
	"swarm/tracker"
)

// AnnounceRequest is a parsed announce as the registry will apply it.
type AnnounceRequest struct {
	// AnnounceRequest holds the client's parameters. NumWant is the number of
	// peers the reply will hold at most: the client's numwant capped by
	// Config.MaxNumWant, or Config.DefaultNumWant when it sent none.
	tracker.AnnounceRequest
	// Addr is the address recorded for the peer: the connection's IP (the
	// "ip" parameter when Config.TrustIP is set) and Port.
	Addr netip.AddrPort
	// NoPeerID asks to leave peer ids out of a dictionary-model reply.
	NoPeerID bool
	// Passkey is the {passkey} path segment of /{passkey}/announce, else
	// the passkey query parameter (/announce?passkey=...), else empty.
	Passkey string
}

// ScrapeRequest is a parsed scrape.
type ScrapeRequest struct {
	// InfoHashes are the torrents asked about, without duplicates, at most
	// Config.MaxScrapeHashes.
	InfoHashes []metainfo.Hash
	// Addr is the IP of the connection.
	Addr netip.Addr
	// Passkey is the {passkey} path segment of /{passkey}/scrape, else the
	// passkey query parameter, else empty.
	Passkey string
}

// badRequest is a failure caused by the client. field names the parameter
// and is the label of the failures metric, so it comes from a fixed set.
type badRequest struct {
	field  string
	reason string
}

func (e *badRequest) Error() string { return e.reason }

func bad(field, format string, args ...any) *badRequest {
	return &badRequest{field: field, reason: fmt.Sprintf(format, args...)}
}

// parseOptions are the parts of Config the parsers need.
type parseOptions struct {
	defaultNumWant, maxNumWant int
	trustIP                    bool
	maxQueryBytes              int
	maxScrapeHashes            int
	passkeys                   bool // read the passkey parameter (with a Hook)
}

// parseAnnounce reads an announce query string. It decodes the binary
// info_hash and peer_id itself (url.ParseQuery would work, but would also map
// '+' to a space and allocate every value), and refuses anything malformed
// with a reason that names the parameter. remote is the connection's IP.
func parseAnnounce(rawQuery string, remote netip.Addr, o parseOptions) (AnnounceRequest, *badRequest) {
	var req AnnounceRequest
	if len(rawQuery) > o.maxQueryBytes {
		return req, bad("query", "query longer than %d bytes", o.maxQueryBytes)
	}
	var (
		seen    [nParams]bool
		port    uint64
		numWant = -1
		ip      netip.Addr
		compact = true
		buf     [64]byte // decoded values are at most this long
	)
	for q := rawQuery; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		key, ok := knownParam(rawKey, &buf)
		if !ok || key == pIP && !o.trustIP || key == pPasskey && !o.passkeys {
			continue // unknown parameters are ignored (BEP 3 allows extensions)
		}
		name := paramNames[key]
		if seen[key] {
			return req, bad(name, "%s given more than once", name)
		}
		seen[key] = true
		val, err := unescape(buf[:0], rawVal, len(buf))
		if err != nil {
			return req, bad(name, "%s: %v", name, err)
		}
		switch key {
		case pInfoHash:
			if len(val) != 20 {
				return req, bad(name, "info_hash must be 20 bytes, got %d", len(val))
			}
			req.InfoHash = metainfo.Hash(val)
		case pPeerID:
			if len(val) != 20 {
				return req, bad(name, "peer_id must be 20 bytes, got %d", len(val))
			}
			req.PeerID = [20]byte(val)
		case pPort:
			port, err = strconv.ParseUint(string(val), 10, 16)
			if err != nil || port == 0 {
				return req, bad(name, "port must be a number from 1 to 65535, got %s", quote(val))
			}
		case pUploaded, pDownloaded, pLeft:
			n, err := parseCounter(name, val)
			if err != nil {
				return req, err
			}
			switch key {
			case pUploaded:
				req.Uploaded = n
			case pDownloaded:
				req.Downloaded = n
			default:
				req.Left = n
			}
		case pEvent:
			ev, err := tracker.ParseEvent(string(val))
			if err != nil {
				return req, bad(name, "unknown event %s", quote(val))
			}
			req.Event = ev
		case pNumWant:
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil && !isRangeErr(err) {
				return req, bad(name, "numwant is not a number: %s", quote(val))
			}
			// A negative numwant (some clients send -1) means the default;
			// a large one is capped.
			if n >= 0 {
				numWant = int(min(n, int64(o.maxNumWant)))
			}
		case pCompact:
			compact = string(val) != "0"
		case pNoPeerID:
			req.NoPeerID = string(val) != "0"
		case pKey:
			req.Key = string(val)
		case pTrackerID:
			req.TrackerID = string(val)
		case pIP:
			ip, err = netip.ParseAddr(string(val))
			if err != nil || ip.Zone() != "" {
				return req, bad(name, "ip is not an IP address: %s", quote(val))
			}
		case pPasskey:
			req.Passkey = string(val)
		}
	}
	for _, p := range []param{pInfoHash, pPeerID, pPort, pUploaded, pDownloaded, pLeft} {
		if !seen[p] {
			return req, bad(paramNames[p], "missing %s", paramNames[p])
		}
	}
	req.Port = uint16(port)
	req.Compact = compact
	if numWant < 0 {
		numWant = o.defaultNumWant
	}
	req.NumWant = numWant
	if !ip.IsValid() {
		ip = remote
	}
	ip = ip.Unmap()
	if !ip.IsValid() {
		return req, bad("ip", "no peer address")
	}
	req.Addr = netip.AddrPortFrom(ip, req.Port)
	return req, nil
}

// parseScrape reads a scrape query string: one or more info_hash parameters.
func parseScrape(rawQuery string, remote netip.Addr, o parseOptions) (ScrapeRequest, *badRequest) {
	req := ScrapeRequest{Addr: remote.Unmap()}
	if len(rawQuery) > o.maxQueryBytes {
		return req, bad("query", "query longer than %d bytes", o.maxQueryBytes)
	}
	var buf [64]byte
	for q := rawQuery; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		key, ok := knownParam(rawKey, &buf)
		if !ok || key != pInfoHash && (key != pPasskey || !o.passkeys) {
			continue
		}
		name := paramNames[key]
		val, err := unescape(buf[:0], rawVal, len(buf))
		if err != nil {
			return req, bad(name, "%s: %v", name, err)
		}
		if key == pPasskey {
			if req.Passkey != "" {
				return req, bad(name, "passkey given more than once")
			}
			req.Passkey = string(val)
			continue
		}
		if len(val) != 20 {
			return req, bad("info_hash", "info_hash must be 20 bytes, got %d", len(val))
		}
		h := metainfo.Hash(val)
		dup := false
		for _, x := range req.InfoHashes {
			dup = dup || x == h
		}
		if dup {
			continue
		}
		if len(req.InfoHashes) == o.maxScrapeHashes {
			return req, bad("info_hash", "more than %d info_hash parameters", o.maxScrapeHashes)
		}
		req.InfoHashes = append(req.InfoHashes, h)
	}
	if len(req.InfoHashes) == 0 {
		return req, bad("info_hash", "missing info_hash (full scrapes are not served)")
	}
	return req, nil
}

func parseCounter(name string, val []byte) (int64, *badRequest) {
	n, err := strconv.ParseInt(string(val), 10, 64)
	switch {
	case isRangeErr(err):
		return 0, bad(name, "%s out of range: %s", name, quote(val))
	case err != nil:
		return 0, bad(name, "%s is not a number: %s", name, quote(val))
	case n < 0:
		return 0, bad(name, "%s is negative: %d", name, n)
	}
	return n, nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// quote shows a client's value in a failure reason, cut to 32 bytes.
func quote(b []byte) string {
	if len(b) > 32 {
		return strconv.Quote(string(b[:32])) + "..."
	}
	return strconv.Quote(string(b))
}

type param uint8

const (
	pInfoHash param = iota
	pPeerID
	pPort
	pUploaded
	pDownloaded
	pLeft
	pEvent
	pNumWant
	pCompact
	pNoPeerID
	pKey
	pTrackerID
	pIP
	pPasskey
	nParams
)

var paramNames = [nParams]string{
	pInfoHash:   "info_hash",
	pPeerID:     "peer_id",
	pPort:       "port",
	pUploaded:   "uploaded",
	pDownloaded: "downloaded",
	pLeft:       "left",
	pEvent:      "event",
	pNumWant:    "numwant",
	pCompact:    "compact",
	pNoPeerID:   "no_peer_id",
	pKey:        "key",
	pTrackerID:  "trackerid",
	pIP:         "ip",
	pPasskey:    "passkey",
}

// knownParam maps a raw (possibly percent-encoded) key to a parameter.
func knownParam(rawKey string, buf *[64]byte) (param, bool) {
	key := rawKey
	if strings.IndexByte(rawKey, '%') >= 0 {
		k, err := unescape(buf[:0], rawKey, len(buf))
		if err != nil {
			return 0, false
		}
		key = string(k)
	}
	switch key {
	case "info_hash":
		return pInfoHash, true
	case "peer_id":
		return pPeerID, true
	case "port":
		return pPort, true
	case "uploaded":
		return pUploaded, true
	case "downloaded":
		return pDownloaded, true
	case "left":
		return pLeft, true
	case "event":
		return pEvent, true
	case "numwant":
		return pNumWant, true
	case "compact":
		return pCompact, true
	case "no_peer_id":
		return pNoPeerID, true
	case "key":
		return pKey, true
	case "trackerid":
		return pTrackerID, true
	case "ip":
		return pIP, true
	case "passkey":
		return pPasskey, true
	}
	return 0, false
}

// unescape percent-decodes s onto dst, refusing results longer than max
// bytes. '+' stays '+': RFC 3986 gives it no meaning in a query, and a client
// that encodes binary correctly never sends it for a space.
func unescape(dst []byte, s string, max int) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if len(dst) == max {
			return dst, fmt.Errorf("longer than %d bytes", max)
		}
		c := s[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(s) {
			return dst, fmt.Errorf("bad percent-encoding at byte %d", i)
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return dst, fmt.Errorf("bad percent-encoding at byte %d", i)
		}
		dst = append(dst, hi<<4|lo)
		i += 2
	}
	return dst, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
