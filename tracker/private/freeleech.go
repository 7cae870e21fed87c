package private

import (
	"context"
	"fmt"
	"strings"
	"time"

	"swarm/metainfo"
)

// Kind is how a torrent's transfer is credited: a site marks some torrents
// (or the whole site for a while) freeleech to draw seeders and leechers.
// The raw totals are counted whatever the kind; the kind changes only the
// credited ones, which ratios use.
type Kind uint8

const (
	KindNormal       Kind = iota // upload and download credited
	KindFreeleech                // download not credited
	KindNeutral                  // neither credited
	KindDoubleUpload             // upload credited twice, download once
	nKinds
)

var kindNames = [nKinds]string{"normal", "freeleech", "neutral", "double_upload"}

// String returns the kind as stored: normal, freeleech, neutral or
// double_upload.
func (k Kind) String() string {
	if k < nKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText writes the kind's name (JSON).
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name (ParseKind).
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

// ParseKind reads a kind's name; '-' may stand for '_' (double-upload, as
// 'swarm tracker torrent set --double-upload' spells it). Messages print
// the stored name, double_upload.
func ParseKind(s string) (Kind, error) {
	n := strings.ReplaceAll(strings.ToLower(s), "-", "_")
	for k, name := range kindNames {
		if n == name {
			return Kind(k), nil
		}
	}
	return KindNormal, fmt.Errorf("kind %q: want normal, freeleech, neutral or double_upload", s)
}

// factors returns the multipliers of upload and download under k.
func (k Kind) factors() (up, down int64) {
	switch k {
	case KindFreeleech:
		return 1, 0
	case KindNeutral:
		return 0, 0
	case KindDoubleUpload:
		return 2, 1
	}
	return 1, 1
}

// FreeleechWindow is a site-wide kind for a time: from Start (included) to
// End (excluded), every torrent is credited as Kind, or as its own kind
// where that is better for the user in a direction (a neutral torrent in
// a double-upload window credits double upload and no download).
type FreeleechWindow struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Kind  Kind      `json:"kind"`
}

// SetTorrentKind sets how a registered torrent is credited; a running
// tracker applies it within a second.
func (d *DB) SetTorrentKind(ctx context.Context, h metainfo.Hash, k Kind) error {
	if k >= nKinds {
		return fmt.Errorf("set torrent %s: unknown %v", h, k)
	}
	res, err := d.sql.ExecContext(ctx, "UPDATE torrents SET kind = ? WHERE info_hash = ?", k.String(), h.String())
	if err != nil {
		return fmt.Errorf("set torrent %s %s: %w", h, k, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("torrent %s: %w", h, ErrNotFound)
	}
	return nil
}

// AddSiteFreeleech adds a site-wide window; a running tracker applies it
// within a second. Windows may overlap: the best kind for the user wins.
func (d *DB) AddSiteFreeleech(ctx context.Context, w FreeleechWindow) error {
	if !w.End.After(w.Start) || w.Kind >= nKinds || w.Kind == KindNormal {
		return fmt.Errorf("site freeleech %v to %v as %v: want an end after the start and a kind other than normal", w.Start, w.End, w.Kind)
	}
	res, err := d.sql.ExecContext(ctx, "INSERT INTO site_freeleech (starts, ends, kind) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
		w.Start.Unix(), w.End.Unix(), w.Kind.String())
	if err != nil {
		return fmt.Errorf("add site freeleech: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("site freeleech %v to %v as %v: %w", w.Start.UTC(), w.End.UTC(), w.Kind, ErrExists)
	}
	return nil
}

// RemoveSiteFreeleech removes the window with w's start, end and kind.
func (d *DB) RemoveSiteFreeleech(ctx context.Context, w FreeleechWindow) error {
	res, err := d.sql.ExecContext(ctx, "DELETE FROM site_freeleech WHERE starts = ? AND ends = ? AND kind = ?",
		w.Start.Unix(), w.End.Unix(), w.Kind.String())
	if err != nil {
		return fmt.Errorf("remove site freeleech: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("site freeleech %v to %v as %v: %w", w.Start.UTC(), w.End.UTC(), w.Kind, ErrNotFound)
	}
	return nil
}

// SiteFreeleech returns the site-wide windows, earliest first, past ones
// included.
func (d *DB) SiteFreeleech(ctx context.Context) ([]FreeleechWindow, error) {
	rows, err := d.sql.QueryContext(ctx, "SELECT starts, ends, kind FROM site_freeleech ORDER BY starts, ends, kind")
	if err != nil {
		return nil, fmt.Errorf("list site freeleech: %w", err)
	}
	defer rows.Close()
	var out []FreeleechWindow
	for rows.Next() {
		var (
			start, end int64
			kind       string
		)
		if err := rows.Scan(&start, &end, &kind); err != nil {
			return nil, fmt.Errorf("list site freeleech: %w", err)
		}
		k, err := ParseKind(kind)
		if err != nil {
			return nil, fmt.Errorf("list site freeleech: stored %w", err)
		}
		out = append(out, FreeleechWindow{Start: time.Unix(start, 0), End: time.Unix(end, 0), Kind: k})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list site freeleech: %w", err)
	}
	return out, nil
}
