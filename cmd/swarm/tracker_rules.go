package main

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"swarm/internal/humanize"
	"swarm/metainfo"
	"swarm/tracker/private"
)

// ruleOptions are the flags of 'swarm tracker --private' for the site's
// rules (anti-cheat, hit-and-run, minimum ratio).
type ruleOptions struct {
	maxRate       string
	maxIPs        int
	hnrWindow     time.Duration
	minRatio      float64
	minRatioAfter string
}

func (o *ruleOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.maxRate, "max-rate", "1GiB/s", "private mode: the fastest upload credited between two announces of a client, and to a member's clients on one torrent together (faster is recorded as a cheat, not credited); 0 means no limit")
	fs.IntVar(&o.maxIPs, "max-ips-per-torrent", 0, "private mode: addresses one member may announce one torrent from at once; 0 means no limit")
	fs.DurationVar(&o.hnrWindow, "hnr-window", private.DefaultHnRWindow, "private mode: seeding within this time of a snatch counts for the hit-and-run list ('swarm tracker hnr')")
	fs.Float64Var(&o.minRatio, "min-ratio", 0, "private mode: refuse downloading to members whose ratio is below this, once they have downloaded --min-ratio-after; 0 means no minimum")
	fs.StringVar(&o.minRatioAfter, "min-ratio-after", "0", "private mode: bytes a member may download before --min-ratio applies, e.g. 5GiB")
}

// config returns the rules' part of the private tracker's config.
func (o *ruleOptions) config() (private.Config, error) {
	rate, err := humanize.ParseRate(o.maxRate)
	if err != nil {
		return private.Config{}, usagef("--max-rate: %v", err)
	}
	if rate == 0 {
		rate = -1 // no limit
	}
	after, err := humanize.ParseSize(o.minRatioAfter)
	if err != nil {
		return private.Config{}, usagef("--min-ratio-after: %v", err)
	}
	switch {
	case o.maxIPs < 0:
		return private.Config{}, usagef("--max-ips-per-torrent %d: want 0 (no limit) or more", o.maxIPs)
	case o.hnrWindow <= 0:
		return private.Config{}, usagef("--hnr-window %v: want a positive duration", o.hnrWindow)
	case o.minRatio < 0:
		return private.Config{}, usagef("--min-ratio %v: want 0 (none) or more", o.minRatio)
	}
	return private.Config{MaxRate: rate, MaxIPsPerTorrent: o.maxIPs, HnRWindow: o.hnrWindow,
		MinRatio: o.minRatio, MinRatioAfter: after}, nil
}

// isRulesNoun tells the 'swarm tracker' subcommands runTrackerRules runs.
func isRulesNoun(s string) bool {
	switch s {
	case "client", "ban", "freeleech", "hnr", "cheats":
		return true
	}
	return false
}

// openAdminDB opens the tracker's database for an admin command. It never
// creates one: a mistyped --db would otherwise get changes written to an
// empty file that no tracker reads.
func openAdminDB(ctx context.Context, path string) (*private.DB, error) {
	db, err := private.OpenExisting(ctx, path)
	if errors.Is(err, iofs.ErrNotExist) {
		path := private.Redacted(path) // a PostgreSQL URL's password stays out of it
		return nil, fmt.Errorf("no tracker database at %s; 'swarm tracker --private --db %s' creates one", path, path)
	}
	return db, err
}

type rulesOptions struct {
	db               string
	json             bool
	reason           string
	from, until      string
	kind             string
	seedTime, window time.Duration
	closed           bool
	user             string
	since            time.Duration
	limit            int
}

// runTrackerRules runs 'swarm tracker client|ban|freeleech|hnr|cheats ...'
// on the database.
func runTrackerRules(ctx context.Context, e *env, noun string, args []string) error {
	var o rulesOptions
	fs := newFlagSet("tracker " + noun)
	fs.StringVar(&o.db, "db", defaultTrackerDB, "the private tracker's SQLite database file, or postgres://… (must exist: 'swarm tracker --private' creates it)")
	fs.BoolVar(&o.json, "json", false, "print JSON")
	switch noun {
	case "ban":
		fs.StringVar(&o.reason, "reason", "", "add: why, for the list")
	case "freeleech":
		fs.StringVar(&o.from, "from", "now", "start: RFC 3339 (2026-12-24T18:00:00Z), a date (2026-12-24, UTC), now, or a duration from now (2h)")
		fs.StringVar(&o.until, "until", "", "end, excluded: as --from, a duration counting from --from (48h)")
		fs.StringVar(&o.kind, "kind", "freeleech", "freeleech (downloads not counted), neutral (nothing counted) or double_upload (uploads count twice; double-upload reads the same)")
	case "hnr":
		fs.DurationVar(&o.seedTime, "hnr-seed-time", private.DefaultHnRSeedTime, "seeding a snatch needs within the window")
		fs.DurationVar(&o.window, "hnr-window", private.DefaultHnRWindow, "the window after a snatch (the tracker's --hnr-window)")
		fs.BoolVar(&o.closed, "closed", false, "only snatches whose window has closed: the hit-and-runs proper")
		fs.StringVar(&o.user, "user", "", "only this member's")
	case "cheats":
		fs.StringVar(&o.user, "user", "", "only this member's")
		fs.DurationVar(&o.since, "since", 0, "only the last DURATION's (24h); 0 means all")
		fs.IntVar(&o.limit, "limit", 100, "at most this many, newest first")
	}
	if noun == "client" {
		args = prefixesAsArgs(args)
	}
	if err := parseFlags(fs, helpFor("tracker-"+noun), args, e); err != nil {
		return err
	}
	verb, rest := "", fs.Args()
	if len(rest) > 0 {
		verb, rest = rest[0], rest[1:]
	}
	run, err := rulesCommand(ctx, e, &o, noun, verb, rest)
	if err != nil {
		return err
	}
	db, err := openAdminDB(ctx, o.db)
	if err != nil {
		return err
	}
	defer db.Close()
	return run(db)
}

// prefixesAsArgs moves the client prefixes in args, which start with '-'
// as BEP 20 peer ids do (-qB4), after a "--", so that pflag does not take
// them for flags. Long flags (--db FILE, --json) and -h stay flags.
func prefixesAsArgs(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case a == "--db" && i+1 < len(args):
			flags = append(flags, a, args[i+1])
			i++
		case strings.HasPrefix(a, "--") || a == "-h":
			flags = append(flags, a)
		default:
			pos = append(pos, a)
		}
	}
	return append(append(flags, "--"), pos...)
}

// rulesCommand checks a command's arguments and returns what runs it.
func rulesCommand(ctx context.Context, e *env, o *rulesOptions, noun, verb string, rest []string) (func(*private.DB) error, error) {
	some := func(what string) error {
		if len(rest) == 0 {
			return usagef("%s %s: want one or more %s", noun, verb, what)
		}
		return nil
	}
	none := func() error {
		if len(rest) != 0 {
			return usagef("%s %s: want no arguments, got %d", noun, verb, len(rest))
		}
		return nil
	}
	switch noun + " " + verb {
	case "client allow", "client disallow":
		if err := some("PREFIX"); err != nil {
			return nil, err
		}
		for _, p := range rest {
			if _, err := private.ParseClientPrefix(p); err != nil {
				return nil, usagef("%v", err)
			}
		}
		return func(db *private.DB) error {
			for _, p := range rest {
				change := db.AllowClient
				if verb == "disallow" {
					change = db.DisallowClient
				}
				err := change(ctx, p)
				if errors.Is(err, private.ErrExists) {
					fmt.Fprintf(e.stdout, "client prefix %q already allowed\n", p)
					continue // adding what is there is no error, as for 'torrent add'
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "client prefix %q %sed\n", p, verb)
			}
			return nil
		}, nil
	case "client list":
		if err := none(); err != nil {
			return nil, err
		}
		return func(db *private.DB) error {
			rules, err := db.ClientRules(ctx)
			if err != nil || o.json {
				return jsonOr(e, rules, []private.ClientRule{}, err)
			}
			return private.WriteClientRules(e.stdout, rules)
		}, nil
	case "ban add", "ban remove":
		if err := some("ADDRESS or CIDR"); err != nil {
			return nil, err
		}
		var ps []netip.Prefix
		for _, s := range rest {
			p, err := private.ParseBan(s)
			if err != nil {
				return nil, usagef("%v", err)
			}
			ps = append(ps, p)
		}
		return func(db *private.DB) error {
			for _, p := range ps {
				var err error
				if verb == "add" {
					err = db.AddBan(ctx, private.Ban{Prefix: p, Reason: o.reason})
				} else {
					err = db.RemoveBan(ctx, p)
				}
				if errors.Is(err, private.ErrExists) {
					fmt.Fprintf(e.stdout, "%s already banned\n", p)
					continue // adding what is there is no error, as for 'torrent add'
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s %s\n", p, map[string]string{"add": "banned", "remove": "no longer banned"}[verb])
			}
			return nil
		}, nil
	case "ban list":
		if err := none(); err != nil {
			return nil, err
		}
		return func(db *private.DB) error {
			bans, err := db.Bans(ctx)
			if err != nil || o.json {
				return jsonOr(e, bans, []private.Ban{}, err)
			}
			return private.WriteBans(e.stdout, bans)
		}, nil
	case "freeleech ", "freeleech add", "freeleech remove":
		if err := none(); err != nil {
			return nil, err
		}
		w, err := o.freeleechWindow(time.Now())
		if err != nil {
			return nil, err
		}
		return func(db *private.DB) error {
			if verb == "remove" {
				if err := db.RemoveSiteFreeleech(ctx, w); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "site-wide %s from %s until %s removed\n", w.Kind, w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339))
				return nil
			}
			err := db.AddSiteFreeleech(ctx, w)
			if errors.Is(err, private.ErrExists) {
				fmt.Fprintf(e.stdout, "site-wide %s from %s until %s already set\n", w.Kind, w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339))
				return nil // adding what is there is no error, as for 'torrent add'
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "site-wide %s from %s until %s\n", w.Kind, w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339))
			return nil
		}, nil
	case "freeleech list":
		if err := none(); err != nil {
			return nil, err
		}
		return func(db *private.DB) error {
			ws, err := db.SiteFreeleech(ctx)
			if err != nil || o.json {
				return jsonOr(e, ws, []private.FreeleechWindow{}, err)
			}
			return private.WriteFreeleech(e.stdout, ws, time.Now())
		}, nil
	case "hnr ", "hnr list":
		if err := none(); err != nil {
			return nil, err
		}
		if o.seedTime <= 0 || o.window <= 0 {
			return nil, usagef("--hnr-seed-time %v, --hnr-window %v: want positive durations", o.seedTime, o.window)
		}
		return func(db *private.DB) error {
			q := private.HnRQuery{SeedTime: o.seedTime, Window: o.window, Closed: o.closed}
			if o.user != "" {
				u, err := db.User(ctx, o.user)
				if err != nil {
					return err
				}
				q.UserID = u.ID
			}
			hs, err := db.HitAndRuns(ctx, q)
			if err != nil || o.json {
				return jsonOr(e, hs, []private.HitAndRun{}, err)
			}
			return private.WriteHitAndRuns(e.stdout, hs)
		}, nil
	case "cheats ", "cheats list":
		if err := none(); err != nil {
			return nil, err
		}
		if o.since < 0 || o.limit < 1 {
			return nil, usagef("--since %v, --limit %d: want 0 or more, and at least 1", o.since, o.limit)
		}
		return func(db *private.DB) error {
			q := private.CheatQuery{Limit: o.limit}
			if o.since > 0 {
				q.Since = time.Now().Add(-o.since)
			}
			if o.user != "" {
				u, err := db.User(ctx, o.user)
				if err != nil {
					return err
				}
				q.UserID = u.ID
			}
			evs, err := db.CheatEvents(ctx, q)
			if err != nil || o.json {
				return jsonOr(e, evs, []private.CheatEvent{}, err)
			}
			return private.WriteCheatEvents(e.stdout, evs)
		}, nil
	}
	return nil, usagef("%s: unknown command %q (see 'swarm tracker %s --help')", noun, verb, noun)
}

// jsonOr returns err, or writes v as JSON (empty, not null, when v has no
// element).
func jsonOr[T any](e *env, v []T, empty []T, err error) error {
	if err != nil {
		return err
	}
	if len(v) == 0 {
		v = empty
	}
	return writeJSON(e.stdout, v)
}

// freeleechWindow reads --from, --until and --kind.
func (o *rulesOptions) freeleechWindow(now time.Time) (private.FreeleechWindow, error) {
	k, err := private.ParseKind(o.kind)
	if err != nil || k == private.KindNormal {
		return private.FreeleechWindow{}, usagef("--kind %q: want freeleech, neutral or double_upload", o.kind)
	}
	start, err := parseWhen(o.from, now)
	if err != nil {
		return private.FreeleechWindow{}, usagef("--from: %v", err)
	}
	if o.until == "" {
		return private.FreeleechWindow{}, usagef("--until: want the end of the window (a time, or a duration such as 48h)")
	}
	end, err := parseWhen(o.until, start)
	if err != nil {
		return private.FreeleechWindow{}, usagef("--until: %v", err)
	}
	if !end.After(start) {
		return private.FreeleechWindow{}, usagef("--until %s is not after --from %s", end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	// Whole seconds, as stored: remove then names the window exactly.
	return private.FreeleechWindow{Start: start.Truncate(time.Second), End: end.Truncate(time.Second), Kind: k}, nil
}

// parseWhen reads a time: RFC 3339, a date (midnight UTC), "now", or a
// duration after ref.
func parseWhen(s string, ref time.Time) (time.Time, error) {
	if s == "now" {
		return time.Now(), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return ref.Add(d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-12-24T18:00:00Z), a date (2026-12-24), now, or a duration (48h)", s)
}

// torrentSet runs 'swarm tracker torrent set HASH --KIND'.
func torrentSet(ctx context.Context, e *env, db *private.DB, h metainfo.Hash, k private.Kind) error {
	if err := db.SetTorrentKind(ctx, h, k); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "torrent %s is %s\n", h, strings.ReplaceAll(k.String(), "_", " "))
	return nil
}

// kindFlags are 'torrent set's --freeleech, --neutral, --double-upload and
// --normal: exactly one is given.
type kindFlags struct{ freeleech, neutral, double, normal bool }

func (k *kindFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&k.freeleech, "freeleech", false, "set: downloads of the torrent are not counted")
	fs.BoolVar(&k.neutral, "neutral", false, "set: neither uploads nor downloads are counted")
	fs.BoolVar(&k.double, "double-upload", false, "set: uploads count twice")
	fs.BoolVar(&k.normal, "normal", false, "set: both count once (the default)")
}

func (k *kindFlags) kind() (private.Kind, error) {
	var out []private.Kind
	for kind, on := range map[private.Kind]bool{private.KindFreeleech: k.freeleech, private.KindNeutral: k.neutral,
		private.KindDoubleUpload: k.double, private.KindNormal: k.normal} {
		if on {
			out = append(out, kind)
		}
	}
	if len(out) != 1 {
		return 0, usagef("torrent set: want exactly one of --freeleech, --neutral, --double-upload, --normal")
	}
	return out[0], nil
}
