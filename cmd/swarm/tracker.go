package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"time"

	"swarm/tracker/private"
	"swarm/tracker/server"
)

type trackerOptions struct {
	listen      string
	udp         string
	interval    time.Duration
	minInterval time.Duration
	numWantMax  int
	trustIP     bool
	private     bool
	db          string
	publicURL   string
	userRate    float64
	userBurst   int
	maxSwarms   int
	connsPerIP  int // --max-conns-per-ip
	maxConns    int
	allow, deny string
	ipRate      float64
	ipBurst     int
	prefixRate  float64
	prefixBurst int
	redis       string
	// Behind a site (tracker_api.go).
	adminListen    string
	adminTokenFile string
	trustedProxies []string
	tlsCert        string
	tlsKey         string
	rules          ruleOptions
	log            logOptions
}

func runTracker(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && (args[0] == "user" || args[0] == "torrent") {
		return runTrackerAdmin(ctx, e, args[0], args[1:])
	}
	if len(args) > 0 && isRulesNoun(args[0]) {
		return runTrackerRules(ctx, e, args[0], args[1:])
	}
	var o trackerOptions
	fs := newFlagSet("tracker")
	fs.StringVar(&o.listen, "listen", ":6969", "address to serve HTTP on, HOST:PORT (port 0 picks a free one)")
	fs.StringVar(&o.udp, "udp", "", "also serve the UDP tracker protocol (BEP 15) on HOST:PORT (port 0 picks a free one); off if empty")
	fs.DurationVar(&o.interval, "interval", server.DefaultInterval, "how often clients should announce, at least 1s (whole seconds)")
	fs.DurationVar(&o.minInterval, "min-interval", 0, "the shortest announce interval clients may use (0 means half of --interval)")
	fs.IntVar(&o.numWantMax, "numwant-max", server.DefaultNumWant, "most peers in one reply, whatever numwant a client asks for")
	fs.BoolVar(&o.trustIP, "trust-ip", false, `record the address in the "ip" parameter instead of the connection's (only behind a proxy or in a lab); --ip-rate then limits both addresses, so behind a proxy give --ip-rate 0 and limit at the proxy`)
	fs.BoolVar(&o.private, "private", false, "private mode: members with passkeys, registered torrents, accounting in --db")
	fs.StringVar(&o.db, "db", defaultTrackerDB, "private mode's SQLite database file (created if missing, mode 0600: it holds every passkey), or postgres://… (an existing PostgreSQL database; the tables are created)")
	fs.StringVar(&o.publicURL, "public-url", "", "the tracker's URL as clients reach it, e.g. http://tracker.example:6969 (default: from --listen); user add prints announce URLs under it")
	fs.Float64Var(&o.userRate, "user-rate", private.DefaultRate, "private mode: requests a second one passkey may make in the long run")
	fs.IntVar(&o.userBurst, "user-burst", private.DefaultBurst, "private mode: requests one passkey may make at once")
	fs.IntVar(&o.maxSwarms, "max-swarms", server.DefaultMaxSwarms, "most torrents tracked at once (each about 340 bytes of memory, half of it live heap); announces starting more are refused; 0 means no limit")
	fs.StringVar(&o.allow, "allow", "", "track only the info hashes in this file (40 hex characters a line; reread on SIGHUP)")
	fs.StringVar(&o.deny, "deny", "", "never track the info hashes in this file (40 hex characters a line; reread on SIGHUP)")
	fs.Float64Var(&o.ipRate, "ip-rate", defaultIPRate, "announces a second one client address may make in the long run (an IPv6 client is its /64); 0 means no limit; private mode: off unless given")
	fs.IntVar(&o.ipBurst, "ip-burst", server.DefaultIPBurst, "announces one client address may make at once")
	fs.Float64Var(&o.prefixRate, "prefix-rate", 0, "announces a second the addresses of one /24 (IPv6: /48) may make together in the long run; 0 means 5 times --ip-rate")
	fs.IntVar(&o.prefixBurst, "prefix-burst", 0, "announces one /24 (IPv6: /48) may make at once; 0 means 5 times --ip-burst")
	fs.IntVar(&o.connsPerIP, "max-conns-per-ip", server.DefaultMaxConnsPerIP, "most HTTP connections one client address (IPv6: its /64) may hold open; more are closed at once; a --trusted-proxy has no such cap; 0 means no limit")
	fs.IntVar(&o.maxConns, "max-conns", server.DefaultMaxConns, "most HTTP connections open at once (an idle one costs about 18 KB); more are closed at once; 0 means no limit")
	fs.StringVar(&o.redis, "redis", "", "keep the swarms in this Redis (redis://HOST:PORT/DB) instead of memory, so that several tracker processes serve the same swarms")
	o.rules.register(fs)
	fs.StringVar(&o.adminListen, "admin-listen", "", "private mode: serve the admin API (JSON) on HOST:PORT; off if empty; a non-loopback address needs --admin-token-file")
	fs.StringVar(&o.adminTokenFile, "admin-token-file", "", "file holding the bearer token the admin API and /metrics then require (at least 16 characters)")
	fs.StringArrayVar(&o.trustedProxies, "trusted-proxy", nil, "a reverse proxy's address or CIDR prefix (repeatable): from it, take the client's address from X-Forwarded-For or X-Real-IP")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key), on --listen and --admin-listen")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	o.log.register(fs)
	if err := parseFlags(fs, helpFor("tracker"), args, e); err != nil {
		return err
	}
	if o.private && !fs.Changed("ip-rate") {
		o.ipRate = 0 // private mode limits each passkey (--user-rate) instead
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
	if cfg.Allow, cfg.Deny, err = o.access().Load(); err != nil {
		return err
	}
	if cfg.MetricsToken, err = readToken(o.adminTokenFile); err != nil {
		return err
	}
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return err
	}
	if !o.private {
		srv, err := server.New(cfg)
		if err != nil {
			if o.redis != "" {
				return err // Redis may be unreachable: not a usage error
			}
			return usagef("%v", err) // every field New checks comes from a flag
		}
		defer srv.Close()
		defer o.access().ReloadOnSIGHUP(ctx, srv, &log)()
		if o.adminListen != "" {
			return usagef("--admin-listen needs --private: an open tracker has no members to manage")
		}
		ln, udp, err := o.listenAll(ctx, tlsCfg)
		if err != nil {
			return err
		}
		base := scheme(tlsCfg) + "://" + server.AnnounceHost(ln.Addr())
		fmt.Fprintf(e.stdout, "tracker listening on %s/announce\n", base)
		if udp != nil {
			fmt.Fprintf(e.stdout, "udp tracker listening on udp://%s/announce\n", server.AnnounceHost(udp[0].LocalAddr()))
		}
		fmt.Fprintf(e.stdout, "scrape at %s/scrape, metrics at %s/metrics; press Ctrl-C to stop\n", base, base)
		return srv.Serve(ctx, ln, udp...)
	}
	return runPrivateTracker(ctx, e, &o, cfg, tlsCfg, &log)
}

// scheme is the URL scheme of the tracker's listener: https with TLS.
func scheme(tlsCfg *tls.Config) string {
	if tlsCfg != nil {
		return "https"
	}
	return "http"
}

// listenAll opens the HTTP listener (HTTPS with tlsCfg) and, with --udp,
// one UDP socket per core on that address (nil without --udp).
func (o *trackerOptions) listenAll(ctx context.Context, tlsCfg *tls.Config) (net.Listener, []*net.UDPConn, error) {
	ln, err := server.Listen(ctx, o.listen)
	if err != nil {
		return nil, nil, err
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	if o.udp == "" {
		return ln, nil, nil
	}
	udp, err := server.ListenUDP(ctx, o.udp, runtime.GOMAXPROCS(0))
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("--udp: %w", err)
	}
	return ln, udp, nil
}

// defaultIPRate is --ip-rate's default: a client announces each torrent
// every --interval (30 minutes), so even an address shared by a few dozen
// users with a thousand torrents each (a carrier-grade NAT) stays under 20
// a second; --ip-burst covers a client announcing all its torrents at start.
const defaultIPRate = 20

func (o *trackerOptions) access() server.AccessFiles {
	return server.AccessFiles{Allow: o.allow, Deny: o.deny}
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
	case o.maxSwarms < 0:
		return server.Config{}, usagef("--max-swarms %d: want 0 (no limit) or more", o.maxSwarms)
	case o.connsPerIP < 0 || o.maxConns < 0:
		return server.Config{}, usagef("--max-conns-per-ip %d, --max-conns %d: want 0 (no limit) or more", o.connsPerIP, o.maxConns)
	case o.ipRate < 0 || o.ipBurst < 1:
		return server.Config{}, usagef("--ip-rate %v, --ip-burst %d: want a rate of at least 0 (0: no limit) and a burst of at least 1", o.ipRate, o.ipBurst)
	case o.prefixRate < 0 || o.prefixBurst < 0:
		return server.Config{}, usagef("--prefix-rate %v, --prefix-burst %d: want 0 (5 times --ip-rate, --ip-burst) or more", o.prefixRate, o.prefixBurst)
	}
	proxies, err := parseProxies(o.trustedProxies)
	if err != nil {
		return server.Config{}, err
	}
	noLimit := func(n int) int {
		if n == 0 {
			return -1 // the flags' 0 is the config's "no limit"
		}
		return n
	}
	return server.Config{
		Interval:       o.interval,
		MinInterval:    o.minInterval,
		DefaultNumWant: min(server.DefaultNumWant, o.numWantMax),
		MaxNumWant:     o.numWantMax,
		TrustIP:        o.trustIP,
		TrustedProxies: proxies,
		MaxSwarms:      noLimit(o.maxSwarms),
		MaxConnsPerIP:  noLimit(o.connsPerIP),
		MaxConns:       noLimit(o.maxConns),
		IPRate:         o.ipRate,
		IPBurst:        o.ipBurst,
		PrefixRate:     o.prefixRate,
		PrefixBurst:    o.prefixBurst,
		Redis:          o.redis,
	}, nil
}
