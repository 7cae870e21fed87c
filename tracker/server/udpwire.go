package server

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"swarm/metainfo"
	"swarm/tracker"
)

// The UDP tracker protocol (BEP 15), as a server reads and writes it.
const (
	udpProtocolID = 0x41727101980

	udpConnect  = 0
	udpAnnounce = 1
	udpScrape   = 2
	udpError    = 3

	udpHeaderLen   = 16 // connection id, action, transaction id
	udpAnnounceLen = 98 // an announce without BEP 41 options
	// udpMaxPeers caps the peers of a UDP reply whatever Config.MaxNumWant
	// allows, so that a reply (20 bytes, then 6 or 18 a peer) stays a few
	// KiB, well under a datagram's limit; opentracker caps at 200 too.
	udpMaxPeers = 200
	// udpMaxDatagram is the read buffer: an announce with 1,900 bytes of
	// URL data, or a scrape of 74 info hashes (BEP 15's limit), fits.
	udpMaxDatagram = 2048

	// BEP 41 option types.
	udpOptEnd     = 0
	udpOptNOP     = 1
	udpOptURLData = 2
)

// udpHeader is the first 16 bytes of every request.
type udpHeader struct {
	connID       uint64
	action, txID uint32
}

func parseUDPHeader(b []byte) (udpHeader, bool) {
	if len(b) < udpHeaderLen {
		return udpHeader{}, false
	}
	return udpHeader{
		connID: binary.BigEndian.Uint64(b[0:8]),
		action: binary.BigEndian.Uint32(b[8:12]),
		txID:   binary.BigEndian.Uint32(b[12:16]),
	}, true
}

// parseUDPAnnounce reads an announce datagram (BEP 15) and its BEP 41
// URLData options. from is the datagram's source; the peer is recorded at
// its IP unless o.trustIP and the request names an IPv4 address. With
// o.passkeys the passkey comes from the URL data: /PASSKEY/announce or
// a passkey query parameter, as over HTTP. It refuses what HTTP refuses,
// with the same reasons.
func parseUDPAnnounce(b []byte, from netip.Addr, o parseOptions) (AnnounceRequest, *badRequest) {
	var req AnnounceRequest
	if len(b) < udpAnnounceLen {
		return req, bad("query", "announce of %d bytes is shorter than %d", len(b), udpAnnounceLen)
	}
	req.InfoHash = metainfo.Hash(b[16:36])
	req.PeerID = [20]byte(b[36:56])
	var counters [3]int64 // downloaded, left, uploaded
	for i, name := range [3]string{"downloaded", "left", "uploaded"} {
		counters[i] = int64(binary.BigEndian.Uint64(b[56+8*i:]))
		if counters[i] < 0 {
			return req, bad(name, "%s is negative: %d", name, counters[i])
		}
	}
	req.Downloaded, req.Left, req.Uploaded = counters[0], counters[1], counters[2]
	switch ev := binary.BigEndian.Uint32(b[80:84]); ev {
	case 0:
		req.Event = tracker.EventNone
	case 1:
		req.Event = tracker.EventCompleted
	case 2:
		req.Event = tracker.EventStarted
	case 3:
		req.Event = tracker.EventStopped
	default:
		return req, bad("event", "unknown event %d", ev)
	}
	ip := from.Unmap()
	if named := [4]byte(b[84:88]); o.trustIP && named != [4]byte{} {
		ip = netip.AddrFrom4(named)
	}
	// A negative numwant (-1 is what clients send) means the default; a
	// large one is capped.
	req.NumWant = o.defaultNumWant
	if n := int32(binary.BigEndian.Uint32(b[92:96])); n >= 0 {
		req.NumWant = int(min(n, int32(min(o.maxNumWant, 1<<31-1))))
	}
	req.NumWant = min(req.NumWant, udpMaxPeers)
	req.Port = binary.BigEndian.Uint16(b[96:98])
	if req.Port == 0 {
		return req, bad("port", "port must be a number from 1 to 65535, got 0")
	}
	if !ip.IsValid() {
		return req, bad("ip", "no peer address")
	}
	req.Addr = netip.AddrPortFrom(ip, req.Port)
	req.Compact = true
	if o.passkeys {
		var buf [udpMaxDatagram]byte
		if pk := udpPasskey(urlData(buf[:0], b[udpAnnounceLen:])); pk != "" {
			req.Passkey = pk
		}
	}
	return req, nil
}

// urlData appends to dst the BEP 41 URLData of the options in opts. It
// stops at EndOfOptions, at an option cut short, or at the end.
func urlData(dst, opts []byte) []byte {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case udpOptEnd:
			return dst
		case udpOptNOP:
			i++
			continue
		}
		// Every other option, URLData or unknown, has a length byte.
		if i+1 >= len(opts) {
			return dst
		}
		n := int(opts[i+1])
		if i+2+n > len(opts) {
			return dst
		}
		if opts[i] == udpOptURLData {
			dst = append(dst, opts[i+2:i+2+n]...)
		}
		i += 2 + n
	}
	return dst
}

// udpPasskey finds a passkey in BEP 41 URL data: "/PASSKEY/announce", else
// a passkey parameter of the query ("/announce?passkey=PASSKEY"); "" if
// none.
func udpPasskey(data []byte) string {
	path, query, _ := strings.Cut(string(data), "?")
	if rest, ok := strings.CutPrefix(path, "/"); ok {
		if pk, ok := strings.CutSuffix(rest, "/announce"); ok && pk != "" && !strings.Contains(pk, "/") {
			return pk
		}
	}
	var buf [64]byte
	for q := query; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		if key, ok := knownParam(rawKey, &buf); !ok || key != pPasskey {
			continue
		}
		if val, err := unescape(buf[:0], rawVal, len(buf)); err == nil {
			return string(val)
		}
		return ""
	}
	return ""
}

// appendUDPConnect appends a connect reply.
func appendUDPConnect(dst []byte, txID uint32, connID uint64) []byte {
	dst = binary.BigEndian.AppendUint32(dst, udpConnect)
	dst = binary.BigEndian.AppendUint32(dst, txID)
	return binary.BigEndian.AppendUint64(dst, connID)
}

// appendUDPAnnounce appends an announce reply: the peers of the asker's
// address family, 6 bytes each for IPv4 and 18 for IPv6 (BEP 15).
func appendUDPAnnounce(dst []byte, txID uint32, interval int64, rp *reply) []byte {
	dst = binary.BigEndian.AppendUint32(dst, udpAnnounce)
	dst = binary.BigEndian.AppendUint32(dst, txID)
	dst = binary.BigEndian.AppendUint32(dst, uint32(min(interval, 1<<31-1)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(min(rp.incomplete, 1<<31-1)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(min(rp.complete, 1<<31-1)))
	dst = append(dst, rp.v4...)
	return append(dst, rp.v6...)
}

// appendUDPScrapeHeader appends a scrape reply's header; appendUDPScrapeEntry
// one torrent's counts after it, in the order asked.
func appendUDPScrapeHeader(dst []byte, txID uint32) []byte {
	dst = binary.BigEndian.AppendUint32(dst, udpScrape)
	return binary.BigEndian.AppendUint32(dst, txID)
}

func appendUDPScrapeEntry(dst []byte, c scrapeCounts) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(min(c.complete, 1<<31-1)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(min(c.downloaded, 1<<31-1)))
	return binary.BigEndian.AppendUint32(dst, uint32(min(c.incomplete, 1<<31-1)))
}

// appendUDPError appends an error reply with reason.
func appendUDPError(dst []byte, txID uint32, reason string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, udpError)
	dst = binary.BigEndian.AppendUint32(dst, txID)
	return append(dst, reason...)
}
