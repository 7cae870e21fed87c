package tracker

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

// FailureError is a tracker's "failure reason" reply: the tracker understood
// the request and refused it.
type FailureError struct {
	Reason string
}

func (e *FailureError) Error() string {
	return "tracker failure: " + e.Reason
}

// maxIntervalSeconds caps the intervals a tracker may ask for (one week), so a
// hostile reply cannot park a torrent forever or overflow a time.Duration.
const maxIntervalSeconds = 7 * 24 * 3600

// rawResponse mirrors the bencoded reply. Peers stay raw because they are a
// string in the compact model and a list in the dictionary model.
type rawResponse struct {
	FailureReason  *string       `bencode:"failure reason"`
	WarningMessage string        `bencode:"warning message"`
	Interval       int64         `bencode:"interval"`
	MinInterval    int64         `bencode:"min interval"`
	TrackerID      string        `bencode:"tracker id"`
	Complete       *int64        `bencode:"complete"`
	Incomplete     *int64        `bencode:"incomplete"`
	Peers          bencode.Bytes `bencode:"peers"`
	Peers6         bencode.Bytes `bencode:"peers6"`
}

type dictPeer struct {
	IP   string `bencode:"ip"`
	Port int64  `bencode:"port"`
}

// ParseAnnounceResponse decodes a bencoded announce reply. A "failure reason"
// comes back as a *FailureError. Trailing bytes after the dictionary are
// ignored. The caller bounds the size of body.
func ParseAnnounceResponse(body []byte) (AnnounceResponse, error) {
	var raw rawResponse
	if err := decode(body, &raw); err != nil {
		return AnnounceResponse{}, fmt.Errorf("decode announce response: %w", err)
	}
	if raw.FailureReason != nil {
		return AnnounceResponse{}, &FailureError{Reason: *raw.FailureReason}
	}
	resp := AnnounceResponse{
		Interval:       seconds(raw.Interval),
		MinInterval:    seconds(raw.MinInterval),
		TrackerID:      raw.TrackerID,
		Complete:       -1,
		Incomplete:     -1,
		WarningMessage: raw.WarningMessage,
	}
	if raw.Complete != nil && *raw.Complete >= 0 {
		resp.Complete = *raw.Complete
	}
	if raw.Incomplete != nil && *raw.Incomplete >= 0 {
		resp.Incomplete = *raw.Incomplete
	}
	peers, err := parsePeers(raw.Peers)
	if err != nil {
		return AnnounceResponse{}, fmt.Errorf("announce response peers: %w", err)
	}
	resp.Peers = peers
	if len(raw.Peers6) > 0 {
		var s []byte
		if err := decode(raw.Peers6, &s); err != nil {
			return AnnounceResponse{}, fmt.Errorf("announce response peers6: %w", err)
		}
		p6, err := ParseCompactIPv6(s)
		if err != nil {
			return AnnounceResponse{}, fmt.Errorf("announce response peers6: %w", err)
		}
		resp.Peers = appendUsable(resp.Peers, p6)
	}
	return resp, nil
}

// parsePeers reads the peers value: a compact string or a list of
// dictionaries. A missing value means no peers.
func parsePeers(raw []byte) ([]netip.AddrPort, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if raw[0] == 'l' {
		var list []dictPeer
		if err := decode(raw, &list); err != nil {
			return nil, err
		}
		peers := make([]netip.AddrPort, 0, len(list))
		for _, p := range list {
			// BEP 3 allows a DNS name here; this client does not resolve
			// names a tracker hands out, so such peers are skipped.
			addr, err := netip.ParseAddr(p.IP)
			if err != nil || p.Port <= 0 || p.Port > 65535 {
				continue
			}
			peers = append(peers, netip.AddrPortFrom(addr.Unmap().WithZone(""), uint16(p.Port)))
		}
		return peers, nil
	}
	var s []byte
	if err := decode(raw, &s); err != nil {
		return nil, err
	}
	p4, err := ParseCompactIPv4(s)
	if err != nil {
		return nil, err
	}
	return appendUsable(nil, p4), nil
}

// appendUsable appends the peers one can connect to (port not 0).
func appendUsable(dst, peers []netip.AddrPort) []netip.AddrPort {
	for _, p := range peers {
		if p.Port() != 0 {
			// An IPv4-mapped address in peers6 is an IPv4 peer: dial
			// it as one, and see it as the same peer as in peers.
			dst = append(dst, netip.AddrPortFrom(p.Addr().Unmap(), p.Port()))
		}
	}
	return dst
}

// decode unmarshals one bencoded value, refusing strings longer than the
// input (which cannot be valid and would otherwise allocate up to the
// decoder's default limit).
func decode(b []byte, v any) error {
	d := bencode.NewDecoder(bytes.NewReader(b))
	d.MaxStrLen = int64(len(b))
	return d.Decode(v)
}

func seconds(n int64) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(min(n, maxIntervalSeconds)) * time.Second
}
