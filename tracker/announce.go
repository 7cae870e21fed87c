package tracker

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"swarm/metainfo"
)

// AnnounceRequest is what a client tells a tracker (BEP 3).
type AnnounceRequest struct {
	InfoHash metainfo.Hash
	PeerID   [20]byte
	// Port is the TCP port the client accepts peer connections on.
	Port uint16
	// Uploaded, Downloaded and Left are byte counts since the started event
	// (Left is what remains to download; 0 means a seeder). Never negative.
	Uploaded, Downloaded, Left int64
	Event                      Event
	// NumWant is how many peers the client would like. In a request a client
	// builds, 0 means the parameter is left out (the tracker's default).
	NumWant int
	// Key is an opaque string that lets the tracker recognise the client after
	// its address changes; empty means not sent.
	Key string
	// TrackerID echoes the "tracker id" of the tracker's last reply; empty
	// means not sent.
	TrackerID string
	// Compact asks for a compact reply (BEP 23): compact=1 when true,
	// compact=0 (the dictionary model) when false.
	Compact bool
}

// MarshalZerologObject logs the request with the project's fixed keys.
func (r AnnounceRequest) MarshalZerologObject(e *zerolog.Event) {
	e.Stringer("infohash", r.InfoHash).
		Hex("peer_id", r.PeerID[:]).
		Uint16("port", r.Port).
		Int64("uploaded", r.Uploaded).
		Int64("downloaded", r.Downloaded).
		Int64("left", r.Left).
		Stringer("event", r.Event).
		Int("numwant", r.NumWant)
}

// Query returns the request as a URL query string, without the leading '?'.
// Binary fields are percent-encoded byte by byte: every byte outside the
// RFC 3986 unreserved set becomes %XX, as trackers expect.
func (r AnnounceRequest) Query() string {
	return string(r.AppendQuery(make([]byte, 0, 256)))
}

// AppendQuery appends the query string that Query returns to dst.
func (r AnnounceRequest) AppendQuery(dst []byte) []byte {
	dst = append(dst, "info_hash="...)
	dst = AppendEscaped(dst, r.InfoHash[:])
	dst = append(dst, "&peer_id="...)
	dst = AppendEscaped(dst, r.PeerID[:])
	dst = append(dst, "&port="...)
	dst = strconv.AppendUint(dst, uint64(r.Port), 10)
	dst = append(dst, "&uploaded="...)
	dst = strconv.AppendInt(dst, r.Uploaded, 10)
	dst = append(dst, "&downloaded="...)
	dst = strconv.AppendInt(dst, r.Downloaded, 10)
	dst = append(dst, "&left="...)
	dst = strconv.AppendInt(dst, r.Left, 10)
	if r.Compact {
		dst = append(dst, "&compact=1"...)
	} else {
		dst = append(dst, "&compact=0"...)
	}
	if r.Event != EventNone {
		dst = append(dst, "&event="...)
		dst = append(dst, r.Event.String()...)
	}
	if r.NumWant > 0 {
		dst = append(dst, "&numwant="...)
		dst = strconv.AppendInt(dst, int64(r.NumWant), 10)
	}
	if r.Key != "" {
		dst = append(dst, "&key="...)
		dst = AppendEscaped(dst, []byte(r.Key))
	}
	if r.TrackerID != "" {
		dst = append(dst, "&trackerid="...)
		dst = AppendEscaped(dst, []byte(r.TrackerID))
	}
	return dst
}

// AppendEscaped appends b percent-encoded to dst: the RFC 3986 unreserved
// bytes (A-Z a-z 0-9 - . _ ~) as they are, every other byte as %XX.
func AppendEscaped(dst, b []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range b {
		if unreserved(c) {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hex[c>>4], hex[c&15])
	}
	return dst
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// AnnounceResponse is a tracker's successful reply. A failure reply is a
// FailureError instead.
type AnnounceResponse struct {
	// Interval is how long to wait before the next regular announce; 0 when
	// the tracker did not say.
	Interval time.Duration
	// MinInterval is the least time between announces; 0 when not given.
	MinInterval time.Duration
	// Peers holds the IPv4 and IPv6 peers of both the compact (BEP 23, BEP 7)
	// and the dictionary model. Entries with a host name or port 0 are dropped.
	Peers []netip.AddrPort
	// TrackerID, when not empty, is to be sent back in later announces.
	TrackerID string
	// Complete and Incomplete count seeders and leechers; -1 when not given.
	Complete, Incomplete int64
	// WarningMessage is shown to the user; the reply is still valid.
	WarningMessage string
}

// MarshalZerologObject logs the response summary with fixed keys.
func (r AnnounceResponse) MarshalZerologObject(e *zerolog.Event) {
	e.Dur("interval", r.Interval).
		Dur("min_interval", r.MinInterval).
		Int("peers", len(r.Peers)).
		Int64("complete", r.Complete).
		Int64("incomplete", r.Incomplete)
	if r.WarningMessage != "" {
		e.Str("warning", r.WarningMessage)
	}
}
