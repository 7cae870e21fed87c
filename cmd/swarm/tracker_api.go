package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"swarm/daemon/rpc"
	"swarm/tracker/adminapi"
	"swarm/tracker/private"
	"swarm/tracker/server"
)

// What 'swarm tracker' adds for a tracker behind a site: the admin API
// (--admin-listen, --admin-token-file), TLS (--tls-cert, --tls-key) and the
// proxies it trusts (--trusted-proxy).

// minTokenLen is the shortest admin token accepted: 16 characters of a
// random token are 64 bits or more.
const minTokenLen = 16

// readToken reads the admin token from path: the file's content without
// surrounding white space. "" means no token.
func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--admin-token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < minTokenLen || strings.ContainsAny(tok, " \t\r\n") {
		return "", usagef("--admin-token-file %s: want one token of at least %d characters without spaces, e.g. from 'openssl rand -hex 32'", path, minTokenLen)
	}
	return tok, nil
}

// checkAdminListen refuses an admin address off loopback without a token:
// anyone who reached it could make themselves a member.
func checkAdminListen(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--admin-listen %q: want HOST:PORT", addr)
	}
	if token != "" || host == "localhost" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return nil
	}
	return usagef("--admin-listen %s is not a loopback address: give --admin-token-file too", addr)
}

// parseProxies reads --trusted-proxy values: CIDR prefixes, or single
// addresses.
func parseProxies(vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			p, err := netip.ParsePrefix(s)
			if err != nil {
				ip, err2 := netip.ParseAddr(s)
				if err2 != nil {
					return nil, usagef("--trusted-proxy %q: want an address or a CIDR prefix such as 10.0.0.0/8", s)
				}
				p = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// tlsConfig loads --tls-cert and --tls-key; nil without them.
func (o *trackerOptions) tlsConfig() (*tls.Config, error) {
	if o.tlsCert == "" && o.tlsKey == "" {
		return nil, nil
	}
	if o.tlsCert == "" || o.tlsKey == "" {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("load --tls-cert and --tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// adminMaxConnsPerIP bounds the admin API's connections from one address
// (an IPv6 client's /64).
const adminMaxConnsPerIP = 32

// serveAdmin serves the admin API on o.adminListen until the returned stop
// is called, which waits for requests in flight (5 s at most).
func serveAdmin(ctx context.Context, e *env, o *trackerOptions, db *private.DB, tr *private.Tracker, srv *server.Server,
	tlsCfg *tls.Config, token string, logger *zerolog.Logger) (stop func(), err error) {
	api, err := adminapi.New(adminapi.Config{DB: db, Live: tr, Token: token, Metrics: srv.MetricsHandler(), Logger: logger,
		HnRWindow: o.rules.hnrWindow})
	if err != nil {
		return nil, err
	}
	ln, err := server.Listen(ctx, o.adminListen)
	if err != nil {
		return nil, fmt.Errorf("--admin-listen: %w", err)
	}
	// Anyone who can reach the port can open connections, token or not:
	// bounded as the daemon's RPC is (256; the site's backend needs few),
	// and per address, or one client holding 256 idle connections locks
	// the site's backend out (attack3).
	ln = rpc.LimitListener(server.PerAddressListener(ln, adminMaxConnsPerIP), rpc.DefaultMaxConns)
	scheme := "http"
	if tlsCfg != nil {
		ln, scheme = tls.NewListener(ln, tlsCfg), "https"
	}
	hs := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute, // a .torrent upload
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          server.ErrorLog(logger.With().Str("listener", "admin API").Logger()),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	auth := "no token: loopback only"
	if token != "" {
		auth = "bearer token required"
	}
	fmt.Fprintf(e.stdout, "admin API listening on %s://%s/api/ (%s)\n", scheme, server.AnnounceHost(ln.Addr()), auth)
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			logger.Error().Err(err).Msg("admin API stopped")
		}
	}, nil
}
