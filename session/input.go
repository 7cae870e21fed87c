package session

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"time"

	"swarm/metainfo"
	"swarm/tracker"
)

// This file turns what a person hands a front end (a .torrent's path or
// URL, a peer's HOST:PORT, file patterns) into what the engine takes, so
// that every front end reads them the same way (AddMagnet reads a magnet
// link).

// URLError is ReadTorrent's error for a URL that cannot be requested at all:
// a mistake in it, not a failure to fetch it. URL is masked (tracker.MaskURL).
type URLError struct {
	URL string
	Err error
}

func (e *URLError) Error() string { return e.URL + ": " + e.Err.Error() }
func (e *URLError) Unwrap() error { return e.Err }

// fetchTorrentTimeout bounds fetching a .torrent from a URL.
const fetchTorrentTimeout = time.Minute

// ReadTorrent reads a .torrent from a file or an http(s) URL, sending
// userAgent. Errors name the URL masked: a private tracker's download links
// hold the passkey.
func ReadTorrent(ctx context.Context, arg, userAgent string) (*metainfo.MetaInfo, error) {
	if !strings.HasPrefix(arg, "http://") && !strings.HasPrefix(arg, "https://") {
		return metainfo.Load(arg)
	}
	masked := tracker.MaskURL(arg)
	ctx, cancel := context.WithTimeout(ctx, fetchTorrentTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, arg, nil)
	if err != nil {
		return nil, &URLError{URL: masked, Err: tracker.StripURL(err)}
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch torrent %s: %w", masked, tracker.StripURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch torrent %s: %s", masked, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, metainfo.MaxTorrentSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch torrent %s: %w", masked, err)
	}
	if len(data) > metainfo.MaxTorrentSize {
		return nil, fmt.Errorf("%s: larger than %d MiB, not a torrent file", masked, metainfo.MaxTorrentSize>>20)
	}
	m, err := metainfo.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", masked, err)
	}
	return m, nil
}

// ResolvePeer reads a peer's address, IP:PORT or HOST:PORT (the first
// address the host resolves to).
func ResolvePeer(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddrPort(s); err == nil {
		return a, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("cannot resolve %s", host)
	}
	return netip.ParseAddrPort(net.JoinHostPort(addrs[0], port))
}

// PatternError is SkipFiles' error for a pattern that is malformed (Err
// says how) or selects no file (Err is nil).
type PatternError struct {
	Pattern string
	Err     error
}

func (e *PatternError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%q selects no file of the torrent", e.Pattern)
	}
	return fmt.Sprintf("%q: %v", e.Pattern, e.Err)
}

// SkipFiles turns patterns into the files to leave out, for
// OpenOptions.Skip. A pattern (path.Match syntax) selects a file if it
// matches the file's path in the torrent ("disc 1/01.flac"), its name
// ("*.flac") or one of its folders ("disc 1"). Every pattern must select
// some file.
func SkipFiles(info *metainfo.Info, patterns []string) (func(file int) bool, error) {
	keep := make([]bool, len(info.Files))
	for _, pat := range patterns {
		if _, err := path.Match(pat, ""); err != nil {
			return nil, &PatternError{Pattern: pat, Err: err}
		}
		found := false
		for i, f := range info.Files {
			if !f.Padding && selects(pat, f.DisplayPath()) {
				keep[i], found = true, true
			}
		}
		if !found {
			return nil, &PatternError{Pattern: pat}
		}
	}
	return func(i int) bool { return !keep[i] }, nil
}

// selects reports whether pattern matches p, its last element or one of
// its folders.
func selects(pattern, p string) bool {
	if ok, _ := path.Match(pattern, path.Base(p)); ok {
		return true
	}
	for i := range len(p) + 1 {
		if i == len(p) || p[i] == '/' {
			if ok, _ := path.Match(pattern, p[:i]); ok {
				return true
			}
		}
	}
	return false
}
