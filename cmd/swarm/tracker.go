package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"swarm/tracker/private"
	"swarm/tracker/server"
)

const trackerHelp = `
Usage: swarm tracker [flags]
       swarm tracker user|torrent COMMAND [flags]   (private mode's database)

Run an HTTP BitTorrent tracker until Ctrl-C: GET /announce (compact replies,
BEP 23), GET /scrape (BEP 48) and Prometheus metrics at /metrics. Swarms live
in memory only; a peer that has not announced for two intervals is dropped.
swarm prints the announce URL to give to 'swarm create -t' once it is
listening.

Clients announce again every --interval; a short interval makes peers that
join later find each other sooner, at the cost of more requests.

With --private only members may announce, to /PASSKEY/announce or
/announce?passkey=PASSKEY (the form libtorrent and qBittorrent accept for a
tracker on their own machine), and only for registered torrents; their
uploaded and downloaded totals are kept in the SQLite database --db,
written once a second. Manage members and torrents
with 'swarm tracker user' and 'swarm tracker torrent' (see their --help),
also while the tracker runs: changes take effect within a second.

Examples:
  swarm tracker
  swarm tracker --listen 127.0.0.1:8080 --interval 1m
  swarm tracker --listen :6969 --numwant-max 200 --log-format console
  swarm tracker --listen 10.0.0.1:6969 --trust-ip   # behind a proxy, or in a lab
  swarm tracker --private --db tracker.db --public-url http://tracker.example:6969
  swarm tracker user add alice --db tracker.db
  swarm tracker torrent add album.torrent --db tracker.db
`

type trackerOptions struct {
	listen      string
	interval    time.Duration
	minInterval time.Duration
	numWantMax  int
	trustIP     bool
	private     bool
	db          string
	publicURL   string
	userRate    float64
	userBurst   int
	log         logOptions
}

func runTracker(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && (args[0] == "user" || args[0] == "torrent") {
		return runTrackerAdmin(ctx, e, args[0], args[1:])
	}
	var o trackerOptions
	fs := newFlagSet("tracker")
	fs.StringVar(&o.listen, "listen", ":6969", "address to serve HTTP on, HOST:PORT (port 0 picks a free one)")
	fs.DurationVar(&o.interval, "interval", server.DefaultInterval, "how often clients should announce, at least 1s (whole seconds)")
	fs.DurationVar(&o.minInterval, "min-interval", 0, "the shortest announce interval clients may use (0 means half of --interval)")
	fs.IntVar(&o.numWantMax, "numwant-max", server.DefaultNumWant, "most peers in one reply, whatever numwant a client asks for")
	fs.BoolVar(&o.trustIP, "trust-ip", false, `record the address in the "ip" parameter instead of the connection's (only behind a proxy or in a lab)`)
	fs.BoolVar(&o.private, "private", false, "private mode: members with passkeys, registered torrents, accounting in --db")
	fs.StringVar(&o.db, "db", defaultTrackerDB, "private mode's SQLite database file (created if missing, mode 0600: it holds every passkey)")
	fs.StringVar(&o.publicURL, "public-url", "", "the tracker's URL as clients reach it, e.g. http://tracker.example:6969 (default: from --listen); user add prints announce URLs under it")
	fs.Float64Var(&o.userRate, "user-rate", private.DefaultRate, "private mode: requests a second one passkey may make in the long run")
	fs.IntVar(&o.userBurst, "user-burst", private.DefaultBurst, "private mode: requests one passkey may make at once")
	o.log.register(fs)
	if err := parseFlags(fs, trackerHelp, args, e); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("tracker takes no arguments, got %d (did you mean 'swarm tracker user' or 'swarm tracker torrent'?)", fs.NArg())
	}
	log, err := o.log.logger(e.stderr)
	if err != nil {
		return err
	}
	cfg, err := o.serverConfig()
	if err != nil {
		return err
	}
	cfg.Logger = &log
	if !o.private {
		srv, err := server.New(cfg)
		if err != nil {
			return usagef("%v", err) // every field New checks comes from a flag
		}
		ln, err := server.Listen(ctx, o.listen)
		if err != nil {
			return err
		}
		base := "http://" + displayAddr(ln.Addr())
		fmt.Fprintf(e.stdout, "tracker listening on %s/announce\n", base)
		fmt.Fprintf(e.stdout, "scrape at %s/scrape, metrics at %s/metrics; press Ctrl-C to stop\n", base, base)
		return srv.Run(ctx, ln)
	}
	return runPrivateTracker(ctx, e, &o, cfg, &log)
}

// serverConfig turns the flags into a tracker server config.
func (o *trackerOptions) serverConfig() (server.Config, error) {
	switch {
	case o.interval < time.Second:
		return server.Config{}, usagef("--interval %v: want at least 1s", o.interval)
	case o.minInterval < 0 || o.minInterval > o.interval:
		return server.Config{}, usagef("--min-interval %v: want between 0 and --interval (%v)", o.minInterval, o.interval)
	case o.numWantMax < 1:
		return server.Config{}, usagef("--numwant-max %d: want at least 1", o.numWantMax)
	}
	return server.Config{
		Interval:       o.interval,
		MinInterval:    o.minInterval,
		DefaultNumWant: min(server.DefaultNumWant, o.numWantMax),
		MaxNumWant:     o.numWantMax,
		TrustIP:        o.trustIP,
	}, nil
}

// displayAddr is the HOST:PORT to show in the announce URL: the loopback
// address when the listener is on every interface, since "0.0.0.0" or "::"
// is not an address clients can announce to.
func displayAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := ta.IP
	if ip.IsUnspecified() {
		// Go listens on both IPv4 and IPv6 for ":PORT" and "[::]:PORT".
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}
