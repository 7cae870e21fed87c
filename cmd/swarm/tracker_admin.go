package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math"
	"text/tabwriter"
	"time"

	"swarm/metainfo"
	"swarm/tracker/private"
)

const trackerUserHelp = `
Usage: swarm tracker user add|list|show|disable|enable|reset-passkey [NAME] [flags]

Manage the members of a private tracker (swarm tracker --private) in its
database. Safe while the tracker runs: it picks up changes within a second.

  add NAME            add a member; prints their passkey and announce URLs
  list                every member with their totals
  show NAME           one member: passkey, announce URLs, totals and ratio,
                      and totals per torrent
  disable NAME        refuse the member's announces from now on
  enable NAME         accept them again
  reset-passkey NAME  give a new passkey (the old one stops working); prints
                      the new announce URLs

A passkey is 32 random hex characters; it is the member's password, so
send each member their own URL privately. Each URL comes in two forms,
/PASSKEY/announce and /announce?passkey=PASSKEY; both work everywhere, but
libtorrent and qBittorrent accept only the second for a tracker on a
loopback address, as when it runs on their own machine. Totals come from what clients
report in their announces: uploaded and downloaded bytes, completed
downloads (snatches) and time spent seeding.

Examples:
  swarm tracker user add alice --db tracker.db
  swarm tracker user list --db tracker.db
  swarm tracker user show alice --db tracker.db --json
  swarm tracker user reset-passkey alice --db tracker.db
`

const trackerTorrentHelp = `
Usage: swarm tracker torrent add|list|remove [FILE.torrent... | HASH] [flags]

Manage the torrents a private tracker (swarm tracker --private) tracks.
Announces for any other info hash are refused. Safe while the tracker runs.

  add FILE.torrent...  register torrents (make them with
                       'swarm create --private -t ANNOUNCE-URL')
  list                 the registered torrents
  remove HASH          stop tracking a torrent (hex info hash); members'
                       totals on it are kept

Examples:
  swarm tracker torrent add album.torrent --db tracker.db
  swarm tracker torrent list --db tracker.db
  swarm tracker torrent remove 0123456789abcdef0123456789abcdef01234567 --db tracker.db
`

type adminOptions struct {
	db        string
	json      bool
	publicURL string
}

// runTrackerAdmin runs 'swarm tracker user|torrent VERB ...' on the
// database.
func runTrackerAdmin(ctx context.Context, e *env, noun string, args []string) error {
	help := trackerUserHelp
	if noun == "torrent" {
		help = trackerTorrentHelp
	}
	var o adminOptions
	fs := newFlagSet("tracker " + noun)
	fs.StringVar(&o.db, "db", defaultTrackerDB, "the private tracker's SQLite database file (must exist: 'swarm tracker --private' creates it)")
	fs.BoolVar(&o.json, "json", false, "list, show: print JSON")
	fs.StringVar(&o.publicURL, "public-url", "", "user add, show, reset-passkey: the tracker's URL for announce URLs (default: the one the tracker recorded)")
	if err := parseFlags(fs, help, args, e); err != nil {
		return err
	}
	verb, rest := "", []string(nil)
	if fs.NArg() > 0 {
		verb, rest = fs.Arg(0), fs.Args()[1:]
	}
	want := func(n int, what string) error {
		if len(rest) != n {
			return usagef("%s %s: want %s, got %d arguments", noun, verb, what, len(rest))
		}
		return nil
	}
	var run func(db *private.DB) error
	switch noun + " " + verb {
	case "user add":
		if err := want(1, "one NAME"); err != nil {
			return err
		}
		run = func(db *private.DB) error { return userAdd(ctx, e, db, &o, rest[0]) }
	case "user list":
		if err := want(0, "no arguments"); err != nil {
			return err
		}
		run = func(db *private.DB) error { return userList(ctx, e, db, &o) }
	case "user show":
		if err := want(1, "one NAME"); err != nil {
			return err
		}
		run = func(db *private.DB) error { return userShow(ctx, e, db, &o, rest[0]) }
	case "user disable", "user enable":
		if err := want(1, "one NAME"); err != nil {
			return err
		}
		run = func(db *private.DB) error {
			if err := db.SetDisabled(ctx, rest[0], verb == "disable"); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "user %s %sd\n", rest[0], verb)
			return nil
		}
	case "user reset-passkey":
		if err := want(1, "one NAME"); err != nil {
			return err
		}
		run = func(db *private.DB) error {
			p, err := db.ResetPasskey(ctx, rest[0])
			if err != nil {
				return err
			}
			return printPasskey(ctx, e, db, &o, rest[0], p)
		}
	case "torrent add":
		if len(rest) == 0 {
			return usagef("torrent add: want one or more FILE.torrent")
		}
		run = func(db *private.DB) error { return torrentAdd(ctx, e, db, rest) }
	case "torrent list":
		if err := want(0, "no arguments"); err != nil {
			return err
		}
		run = func(db *private.DB) error { return torrentList(ctx, e, db, &o) }
	case "torrent remove":
		if err := want(1, "one HASH"); err != nil {
			return err
		}
		h, err := metainfo.ParseHash(rest[0])
		if err != nil {
			return usagef("%v", err)
		}
		run = func(db *private.DB) error {
			if err := db.RemoveTorrent(ctx, h); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "torrent %s removed\n", h)
			return nil
		}
	default:
		return usagef("%s: unknown command %q (see 'swarm tracker %s --help')", noun, verb, noun)
	}
	if _, err := checkPublicURL(o.publicURL); err != nil {
		return err
	}
	// Never create the database here: a mistyped --db would otherwise get
	// members added to an empty file that no tracker reads.
	db, err := private.OpenExisting(ctx, o.db)
	if errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("no tracker database at %s; 'swarm tracker --private --db %s' creates one", o.db, o.db)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	return run(db)
}

func userAdd(ctx context.Context, e *env, db *private.DB, o *adminOptions, name string) error {
	u, err := db.AddUser(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s added\n", u.Name)
	return printPasskey(ctx, e, db, o, u.Name, u.Passkey)
}

func printPasskey(ctx context.Context, e *env, db *private.DB, o *adminOptions, name string, p private.Passkey) error {
	base, err := db.AnnounceBaseOr(ctx, o.publicURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "passkey:      %s\n", p)
	printAnnounceURLs(e.stdout, base, p)
	return nil
}

// printAnnounceURLs prints both forms of a member's announce URL: the
// passkey in the path, and in the query for clients on the tracker's own
// machine (libtorrent and qBittorrent refuse a loopback tracker whose path
// is not /announce).
func printAnnounceURLs(w io.Writer, base string, p private.Passkey) {
	fmt.Fprintf(w, "announce URL: %s\n", private.AnnounceURL(base, p))
	fmt.Fprintf(w, "  or:         %s (use this form when client and tracker share a machine)\n", private.AnnounceQueryURL(base, p))
}

func userList(ctx context.Context, e *env, db *private.DB, o *adminOptions) error {
	users, err := db.Users(ctx)
	if err != nil {
		return err
	}
	if o.json {
		out := make([]private.UserView, 0, len(users))
		for _, u := range users {
			out = append(out, private.ViewUser(u))
		}
		return writeJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tUPLOADED\tDOWNLOADED\tRATIO\tSNATCHES\tSEEDING")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", u.Name, status(u.Disabled), formatSize(u.Uploaded),
			formatSize(u.Downloaded), formatRatio(u.Totals), u.Snatches, seedTime(u.SeedSeconds))
	}
	return tw.Flush()
}

func userShow(ctx context.Context, e *env, db *private.DB, o *adminOptions, name string) error {
	u, err := db.User(ctx, name)
	if err != nil {
		return err
	}
	per, err := db.UserTorrents(ctx, u.ID)
	if err != nil {
		return err
	}
	base, err := db.AnnounceBaseOr(ctx, o.publicURL)
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(e.stdout, private.ViewUserDetail(u, base, per))
	}
	w := e.stdout
	fmt.Fprintf(w, "user:         %s (%s, since %s)\n", u.Name, status(u.Disabled), u.Created.UTC().Format(time.DateOnly))
	fmt.Fprintf(w, "passkey:      %s\n", u.Passkey)
	printAnnounceURLs(w, base, u.Passkey)
	fmt.Fprintf(w, "uploaded:     %s (%d bytes)\n", formatSize(u.Uploaded), u.Uploaded)
	fmt.Fprintf(w, "downloaded:   %s (%d bytes)\n", formatSize(u.Downloaded), u.Downloaded)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", t.InfoHash, name, formatSize(t.Uploaded), formatSize(t.Downloaded),
			formatRatio(t.Totals), t.Snatches, seedTime(t.SeedSeconds))
	}
	return tw.Flush()
}

func torrentAdd(ctx context.Context, e *env, db *private.DB, files []string) error {
	for _, f := range files {
		m, err := metainfo.Load(f)
		if err != nil {
			return err
		}
		err = db.AddTorrent(ctx, private.Torrent{InfoHash: m.InfoHash, Name: m.Info.Name, Size: m.Info.Length})
		if errors.Is(err, private.ErrExists) {
			fmt.Fprintf(e.stdout, "torrent %s %s is already registered\n", m.InfoHash, m.Info.Name)
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "torrent %s %s registered (%s)\n", m.InfoHash, m.Info.Name, formatSize(m.Info.Length))
		if !m.Info.Private {
			fmt.Fprintf(e.stderr, "warning: %s is not marked private (BEP 27): clients may also find peers through DHT and peer exchange; make it with 'swarm create --private'\n", f)
		}
	}
	return nil
}

func torrentList(ctx context.Context, e *env, db *private.DB, o *adminOptions) error {
	ts, err := db.Torrents(ctx)
	if err != nil {
		return err
	}
	if o.json {
		out := make([]private.TorrentView, 0, len(ts))
		for _, t := range ts {
			out = append(out, private.ViewTorrent(t))
		}
		return writeJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INFO HASH\tNAME\tSIZE\tADDED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.InfoHash, t.Name, formatSize(t.Size), t.Added.UTC().Format(time.DateOnly))
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
func formatRatio(t private.Totals) string {
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
