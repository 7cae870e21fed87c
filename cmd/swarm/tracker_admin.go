package main

import (
	"context"
	"errors"
	"fmt"

	"swarm/internal/humanize"
	"swarm/metainfo"
	"swarm/tracker/private"
)

type adminOptions struct {
	db        string
	json      bool
	publicURL string
	kind      kindFlags
}

// runTrackerAdmin runs 'swarm tracker user|torrent VERB ...' on the
// database.
func runTrackerAdmin(ctx context.Context, e *env, noun string, args []string) error {
	help := helpFor("tracker-" + noun)
	var o adminOptions
	fs := newFlagSet("tracker " + noun)
	fs.StringVar(&o.db, "db", defaultTrackerDB, "the private tracker's SQLite database file, or postgres://… (must exist: 'swarm tracker --private' creates it)")
	// Each noun shows only the flags its verbs read: torrent has no show
	// and prints no announce URL.
	if noun == "torrent" {
		fs.BoolVar(&o.json, "json", false, "list: print JSON")
		o.kind.register(fs)
	} else {
		fs.BoolVar(&o.json, "json", false, "list, show: print JSON")
		fs.StringVar(&o.publicURL, "public-url", "", "user add, show, reset-passkey: the tracker's URL for announce URLs (default: the one the tracker recorded)")
	}
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
	case "user delete":
		if err := want(1, "one NAME"); err != nil {
			return err
		}
		run = func(db *private.DB) error {
			if err := db.DeleteUser(ctx, rest[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "user %s deleted\n", rest[0])
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
			return printPasskey(ctx, e, db, &o, p)
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
	case "torrent set":
		if err := want(1, "one HASH"); err != nil {
			return err
		}
		h, err := metainfo.ParseHash(rest[0])
		if err != nil {
			return usagef("%v", err)
		}
		k, err := o.kind.kind()
		if err != nil {
			return err
		}
		run = func(db *private.DB) error { return torrentSet(ctx, e, db, h, k) }
	default:
		return usagef("%s: unknown command %q (see 'swarm tracker %s --help')", noun, verb, noun)
	}
	if _, err := checkPublicURL(o.publicURL); err != nil {
		return err
	}
	db, err := openAdminDB(ctx, o.db)
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
	return printPasskey(ctx, e, db, o, u.Passkey)
}

func printPasskey(ctx context.Context, e *env, db *private.DB, o *adminOptions, p private.Passkey) error {
	base, err := db.AnnounceBaseOr(ctx, o.publicURL)
	if err != nil {
		return err
	}
	private.WritePasskey(e.stdout, base, p)
	return nil
}

func userList(ctx context.Context, e *env, db *private.DB, o *adminOptions) error {
	users, err := db.Users(ctx)
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(e.stdout, private.ViewUsers(users))
	}
	return private.WriteUsers(e.stdout, users)
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
	return private.WriteUser(e.stdout, u, base, per)
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
		fmt.Fprintf(e.stdout, "torrent %s %s registered (%s)\n", m.InfoHash, m.Info.Name, humanize.Size(m.Info.Length))
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
	totals, err := db.TorrentTotals(ctx)
	if err != nil {
		return err
	}
	act, _, err := db.Activity(ctx)
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(e.stdout, private.ViewTorrents(ts, totals, act))
	}
	return private.WriteTorrents(e.stdout, ts, totals, act)
}
