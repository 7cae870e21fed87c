package main

import (
	"context"
	"crypto/tls"
	"fmt"

	"github.com/rs/zerolog"

	"swarm/tracker/private"
	"swarm/tracker/server"
)

// defaultTrackerDB is private mode's database when --db is not given: the
// tracker and the admin commands agree on it when run from one folder.
const defaultTrackerDB = "swarm-tracker.db"

// runPrivateTracker serves the tracker in private mode over the database
// o.db until ctx is done; the last totals are written after the last
// request (private.Tracker.Serve).
func runPrivateTracker(ctx context.Context, e *env, o *trackerOptions, cfg server.Config, tlsCfg *tls.Config, log *zerolog.Logger) error {
	if o.userRate <= 0 || o.userBurst < 1 {
		return usagef("--user-rate %v, --user-burst %d: want a positive rate and a burst of at least 1", o.userRate, o.userBurst)
	}
	if o.trustIP {
		// Anyone could otherwise have the swarm send peers to someone
		// else's address in a member's name.
		return usagef("--trust-ip: private mode never takes the address from the ip parameter; behind a proxy give --trusted-proxy")
	}
	if o.adminListen != "" {
		if err := checkAdminListen(o.adminListen, cfg.MetricsToken); err != nil {
			return err
		}
	}
	base, err := checkPublicURL(o.publicURL)
	if err != nil {
		return err
	}
	rules, err := o.rules.config()
	if err != nil {
		return err
	}
	db, err := private.Open(ctx, o.db)
	if err != nil {
		return err
	}
	defer db.Close()
	rules.DB, rules.Logger = db, log
	rules.Interval, rules.MinInterval = cfg.Interval, cfg.MinInterval
	rules.Rate, rules.Burst = o.userRate, o.userBurst
	tr, err := private.New(ctx, rules)
	if err != nil {
		return err
	}
	cfg.Hook, cfg.Metrics = tr, tr.Collectors()
	srv, err := server.New(cfg)
	if err != nil {
		if o.redis != "" {
			return err // Redis may be unreachable: not a usage error
		}
		return usagef("%v", err)
	}
	defer srv.Close()
	defer o.access().ReloadOnSIGHUP(ctx, srv, log)()
	ln, udp, err := o.listenAll(ctx, tlsCfg)
	if err != nil {
		return err
	}
	if base == "" {
		base = scheme(tlsCfg) + "://" + server.AnnounceHost(ln.Addr())
	}
	if err := db.SetAnnounceBase(ctx, base); err != nil {
		ln.Close()
		for _, c := range udp {
			c.Close()
		}
		return err
	}
	fmt.Fprintf(e.stdout, "private tracker listening on %s: members announce to %s/PASSKEY/announce\n", base, base)
	fmt.Fprintf(e.stdout, "or to %s/announce?passkey=PASSKEY (the form libtorrent and qBittorrent accept for a tracker on their own machine)\n", base)
	if udp != nil {
		fmt.Fprintf(e.stdout, "and over UDP to udp://%s/PASSKEY/announce\n", server.AnnounceHost(udp[0].LocalAddr()))
	}
	if o.adminListen != "" {
		stop, err := serveAdmin(ctx, e, o, db, tr, srv, tlsCfg, cfg.MetricsToken, log)
		if err != nil {
			ln.Close()
			for _, c := range udp {
				c.Close()
			}
			return err
		}
		defer stop()
	}
	fmt.Fprintf(e.stdout, "'swarm tracker user add NAME' prints a member's URL; metrics at %s/metrics; press Ctrl-C to stop\n", base)
	return tr.Serve(ctx, srv, ln, udp...)
}

// checkPublicURL checks --public-url (private.CheckBaseURL).
func checkPublicURL(u string) (string, error) {
	b, err := private.CheckBaseURL(u)
	if err != nil {
		return "", usagef("--public-url %v", err)
	}
	return b, nil
}
