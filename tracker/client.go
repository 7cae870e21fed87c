package tracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultMaxResponseBytes bounds an announce reply when Client.MaxResponseBytes
// is 0: 1 MiB, far above the few kilobytes 50 peers take.
const DefaultMaxResponseBytes = 1 << 20

// Client sends HTTP and UDP (BEP 15) announces. The zero Client is ready to
// use. A Client is safe for concurrent use and must not be copied after first
// use (it caches UDP connection ids).
type Client struct {
	// HTTP sends the requests; nil means http.DefaultClient. Timeouts come
	// from the context passed to Announce.
	HTTP *http.Client
	// UserAgent is sent in the User-Agent header; empty means none is set
	// (Go's default).
	UserAgent string
	// MaxResponseBytes bounds the reply body in bytes; 0 means
	// DefaultMaxResponseBytes. A longer reply is an error.
	MaxResponseBytes int64

	// UDPRetryInterval is how long to wait for a UDP tracker's reply before
	// sending the request again; each further wait doubles. 0 means
	// DefaultUDPRetryInterval (2 s). The context passed to Announce bounds
	// the whole exchange.
	UDPRetryInterval time.Duration
	// UDPConnIDLifetime is how long a UDP tracker's connection id is reused;
	// 0 means DefaultUDPConnIDLifetime (1 minute, BEP 15).
	UDPConnIDLifetime time.Duration
	// Now is the clock for connection id lifetimes; nil means time.Now.
	Now func() time.Time
	// Resolver looks up UDP trackers' host names; nil means
	// net.DefaultResolver.
	Resolver *net.Resolver

	mu      sync.Mutex                   // guards connIDs
	connIDs map[netip.AddrPort]udpConnID // UDP connection ids by tracker address
}

// Announce sends req to the tracker at announceURL (http or https; a query it
// already has, such as a passkey, is kept; or udp://host:port, whose path and
// query go in BEP 41's URLData option) and parses the reply. A tracker's
// refusal is returned as a *FailureError. The context bounds the whole
// exchange.
//
// Errors name the tracker by MaskURL(announceURL), never with its passkey.
func (c *Client) Announce(ctx context.Context, announceURL string, req AnnounceRequest) (AnnounceResponse, error) {
	if isUDPURL(announceURL) {
		return c.announceUDP(ctx, announceURL, req)
	}
	masked := MaskURL(announceURL)
	u, err := announceQueryURL(announceURL, req)
	if err != nil {
		return AnnounceResponse{}, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return AnnounceResponse{}, fmt.Errorf("announce to %s: %w", masked, StripURL(err))
	}
	if c.UserAgent != "" {
		hreq.Header.Set("User-Agent", c.UserAgent)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	hresp, err := hc.Do(hreq)
	if err != nil {
		return AnnounceResponse{}, fmt.Errorf("announce to %s: %w", masked, StripURL(err))
	}
	defer hresp.Body.Close()
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	body, err := io.ReadAll(io.LimitReader(hresp.Body, limit+1))
	if err != nil {
		return AnnounceResponse{}, fmt.Errorf("announce to %s: read reply: %w", masked, err)
	}
	if int64(len(body)) > limit {
		return AnnounceResponse{}, fmt.Errorf("announce to %s: reply longer than %d bytes", masked, limit)
	}
	resp, err := ParseAnnounceResponse(body)
	var fe *FailureError
	if errors.As(err, &fe) {
		fe.Reason = MaskEchoed(announceURL, fe.Reason)
		return AnnounceResponse{}, fmt.Errorf("announce to %s: %w", masked, err)
	}
	if err != nil {
		if hresp.StatusCode != http.StatusOK {
			// Not bencode: the HTTP status says more than the parse error.
			return AnnounceResponse{}, fmt.Errorf("announce to %s: http status %s", masked, MaskEchoed(announceURL, hresp.Status))
		}
		return AnnounceResponse{}, fmt.Errorf("announce to %s: %w", masked, err)
	}
	// Some trackers send a bencoded reply with a non-200 status: a reply that
	// parses is trusted over the status line.
	resp.WarningMessage = MaskEchoed(announceURL, resp.WarningMessage)
	return resp, nil
}

// announceQueryURL appends the announce parameters to announceURL, keeping a
// query the URL already has.
func announceQueryURL(announceURL string, req AnnounceRequest) (string, error) {
	u, err := url.Parse(announceURL)
	if err != nil {
		return "", fmt.Errorf("announce url %q: %w", MaskURL(announceURL), StripURL(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("announce url %q: scheme %q is not http or https", MaskURL(announceURL), u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("announce url %q: no host", MaskURL(announceURL))
	}
	base, _, _ := strings.Cut(announceURL, "#")
	b := make([]byte, 0, len(base)+256)
	b = append(b, base...)
	switch {
	case u.RawQuery == "" && !u.ForceQuery:
		b = append(b, '?')
	case strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&"):
	default:
		b = append(b, '&')
	}
	return string(req.AppendQuery(b)), nil
}
