package private

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// What admin tools (swarm tracker user|torrent, a web page) show of the
// database: views whose JSON field names stay stable, and the base URL
// members' announce URLs are printed under.

// TotalsView is Totals as admin tools show them.
type TotalsView struct {
	Uploaded    int64    `json:"uploaded"`
	Downloaded  int64    `json:"downloaded"`
	Ratio       *float64 `json:"ratio"` // null when nothing was downloaded
	Snatches    int64    `json:"snatches"`
	SeedSeconds int64    `json:"seed_seconds"`
}

// UserView is a member as admin tools show them. The announce URLs and the
// per-torrent totals are filled in for one member's detail only.
type UserView struct {
	Name        string    `json:"name"`
	Disabled    bool      `json:"disabled"`
	Created     time.Time `json:"created"`
	AnnounceURL string    `json:"announce_url,omitempty"`
	// AnnounceQueryURL has the passkey in the query, for clients on the
	// tracker's machine.
	AnnounceQueryURL string              `json:"announce_query_url,omitempty"`
	Torrents         []TorrentTotalsView `json:"torrents,omitempty"`
	TotalsView
	RawView
}

// RawView is Raw as admin tools show it: the bytes moved before
// freeleech, neutral and double upload.
type RawView struct {
	RawUploaded   int64 `json:"raw_uploaded"`
	RawDownloaded int64 `json:"raw_downloaded"`
}

// TorrentTotalsView is a member's totals on one torrent.
type TorrentTotalsView struct {
	InfoHash string `json:"info_hash"`
	Name     string `json:"name"`
	TotalsView
	RawView
}

// TorrentView is a registered torrent.
type TorrentView struct {
	InfoHash string    `json:"info_hash"`
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Added    time.Time `json:"added"`
	Kind     Kind      `json:"kind"`
}

// TorrentStatsView is a registered torrent with its totals over every user
// and its peers now.
type TorrentStatsView struct {
	TorrentView
	TotalsView
	Seeders  int `json:"seeders"`
	Leechers int `json:"leechers"`
}

// ViewTorrentStats returns t's view with its totals and peers.
func ViewTorrentStats(t Torrent, tot Totals, act Activity) TorrentStatsView {
	return TorrentStatsView{TorrentView: ViewTorrent(t), TotalsView: ViewTotals(tot), Seeders: act.Seeding, Leechers: act.Leeching}
}

// ViewTotals returns t's view; its Ratio is nil when nothing was
// downloaded.
func ViewTotals(t Totals) TotalsView {
	v := TotalsView{Uploaded: t.Uploaded, Downloaded: t.Downloaded, Snatches: t.Snatches, SeedSeconds: t.SeedSeconds}
	if t.Downloaded > 0 {
		r := t.Ratio()
		v.Ratio = &r
	}
	return v
}

// ViewUser returns u's view, in UTC, without its announce URLs.
func ViewUser(u User) UserView {
	return UserView{Name: u.Name, Disabled: u.Disabled, Created: u.Created.UTC(), TotalsView: ViewTotals(u.Totals),
		RawView: RawView(u.Raw)}
}

// ViewUserDetail returns u's view with its announce URLs under base and
// its totals per torrent.
func ViewUserDetail(u User, base string, per []TorrentTotals) UserView {
	v := ViewUser(u)
	v.AnnounceURL, v.AnnounceQueryURL = AnnounceURL(base, u.Passkey), AnnounceQueryURL(base, u.Passkey)
	v.Torrents = make([]TorrentTotalsView, 0, len(per))
	for _, t := range per {
		v.Torrents = append(v.Torrents, TorrentTotalsView{InfoHash: t.InfoHash.String(), Name: t.Name, TotalsView: ViewTotals(t.Totals),
			RawView: RawView(t.Raw)})
	}
	return v
}

// ViewTorrent returns t's view, in UTC.
func ViewTorrent(t Torrent) TorrentView {
	return TorrentView{InfoHash: t.InfoHash.String(), Name: t.Name, Size: t.Size, Added: t.Added.UTC(), Kind: t.Kind}
}

// CheckBaseURL accepts "" or an http(s) URL without a query or fragment,
// the form of a tracker's public URL, and returns it without a trailing
// slash.
func CheckBaseURL(u string) (string, error) {
	if u == "" {
		return "", nil
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") || strings.ContainsAny(u, "?#") {
		return "", fmt.Errorf("%q: want http://HOST:PORT or https://HOST", u)
	}
	return strings.TrimRight(u, "/"), nil
}

// PlaceholderBase is what AnnounceBaseOr gives when it knows no URL: a
// placeholder for the admin to edit.
const PlaceholderBase = "http://HOST:6969"

// AnnounceBaseOr is the base URL members' announce URLs go under:
// publicURL if it is a valid one (CheckBaseURL), else the URL the tracker
// recorded when it last started, else PlaceholderBase.
func (d *DB) AnnounceBaseOr(ctx context.Context, publicURL string) (string, error) {
	if b, _ := CheckBaseURL(publicURL); b != "" {
		return b, nil
	}
	b, err := d.AnnounceBase(ctx)
	if b == "" && err == nil {
		b = PlaceholderBase
	}
	return b, err
}
