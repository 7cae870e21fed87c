package private

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"swarm/internal/humanize"
	"swarm/metainfo"
)

// The text views of the database, as 'swarm tracker user|torrent' prints
// them: tables for lists, a block of "key: value" rows for one member.

// ViewUsers returns the views of users, never nil (JSON "[]").
func ViewUsers(users []User) []UserView {
	out := make([]UserView, 0, len(users))
	for _, u := range users {
		out = append(out, ViewUser(u))
	}
	return out
}

// ViewTorrents returns the views of ts with their totals and peers, never
// nil (JSON "[]").
func ViewTorrents(ts []Torrent, totals map[metainfo.Hash]Totals, act map[metainfo.Hash]Activity) []TorrentStatsView {
	out := make([]TorrentStatsView, 0, len(ts))
	for _, t := range ts {
		out = append(out, ViewTorrentStats(t, totals[t.InfoHash], act[t.InfoHash]))
	}
	return out
}

// WriteUsers writes users as a table: name, status, totals, ratio.
func WriteUsers(w io.Writer, users []User) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tUPLOADED\tDOWNLOADED\tRATIO\tSNATCHES\tSEEDING")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", u.Name, status(u.Disabled), humanize.Size(u.Uploaded),
			humanize.Size(u.Downloaded), formatRatio(u.Totals), u.Snatches, seedTime(u.SeedSeconds))
	}
	return tw.Flush()
}

// WriteUser writes one member: passkey, announce URLs under base, totals,
// and a table of their totals per torrent (none if per is empty).
func WriteUser(w io.Writer, u User, base string, per []TorrentTotals) error {
	fmt.Fprintf(w, "user:         %s (%s, since %s)\n", u.Name, status(u.Disabled), u.Created.UTC().Format(time.DateOnly))
	WritePasskey(w, base, u.Passkey)
	fmt.Fprintf(w, "uploaded:     %s (%d bytes)\n", humanize.Size(u.Uploaded), u.Uploaded)
	fmt.Fprintf(w, "downloaded:   %s (%d bytes)\n", humanize.Size(u.Downloaded), u.Downloaded)
	if u.Raw != (Raw{u.Uploaded, u.Downloaded}) {
		fmt.Fprintf(w, "raw:          %s up, %s down (before freeleech, neutral, double upload)\n",
			humanize.Size(u.RawUploaded), humanize.Size(u.RawDownloaded))
	}
	fmt.Fprintf(w, "ratio:        %s\n", formatRatio(u.Totals))
	fmt.Fprintf(w, "snatches:     %d\n", u.Snatches)
	fmt.Fprintf(w, "seeding time: %s\n", seedTime(u.SeedSeconds))
	if len(per) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INFO HASH\tNAME\tUPLOADED\tDOWNLOADED\tRATIO\tSNATCHES\tSEEDING")
	for _, t := range per {
		name := t.Name
		if name == "" {
			name = "(removed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", t.InfoHash, name, humanize.Size(t.Uploaded), humanize.Size(t.Downloaded),
			formatRatio(t.Totals), t.Snatches, seedTime(t.SeedSeconds))
	}
	return tw.Flush()
}

// WritePasskey writes a passkey and both forms of the member's announce
// URL under base: the passkey in the path, and in the query for clients on
// the tracker's own machine (libtorrent and qBittorrent refuse a loopback
// tracker whose path is not /announce).
func WritePasskey(w io.Writer, base string, p Passkey) {
	fmt.Fprintf(w, "passkey:      %s\n", p)
	fmt.Fprintf(w, "announce URL: %s\n", AnnounceURL(base, p))
	fmt.Fprintf(w, "  or:         %s (use this form when client and tracker share a machine)\n", AnnounceQueryURL(base, p))
}

// WriteTorrents writes the registered torrents as a table, with their
// seeders and leechers (act) and snatches (totals).
func WriteTorrents(w io.Writer, ts []Torrent, totals map[metainfo.Hash]Totals, act map[metainfo.Hash]Activity) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INFO HASH\tNAME\tSIZE\tADDED\tKIND\tSEEDERS\tLEECHERS\tSNATCHES")
	for _, t := range ts {
		a := act[t.InfoHash]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", t.InfoHash, t.Name, humanize.Size(t.Size), t.Added.UTC().Format(time.DateOnly),
			t.Kind, a.Seeding, a.Leeching, totals[t.InfoHash].Snatches)
	}
	return tw.Flush()
}

func status(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "active"
}

// formatRatio shows uploaded/downloaded with two decimals, "inf" when only
// uploaded, "-" when neither.
func formatRatio(t Totals) string {
	r := t.Ratio()
	switch {
	case math.IsInf(r, 1):
		return "inf"
	case t.Uploaded == 0 && t.Downloaded == 0:
		return "-"
	}
	return fmt.Sprintf("%.2f", r)
}

func seedTime(secs int64) string { return (time.Duration(secs) * time.Second).String() }
