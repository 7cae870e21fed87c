package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"swarm/dht"
)

// defaultBootstrap are the public DHT routers libtorrent and Transmission
// start from.
var defaultBootstrap = []string{"router.bittorrent.com:6881", "dht.transmissionbt.com:6881", "router.utorrent.com:6881"}

// dhtOptions are the DHT flags of seed and get.
type dhtOptions struct {
	enabled   bool
	port      int
	bootstrap []string
}

func (o *dhtOptions) register(fs *pflag.FlagSet) {
	fs.BoolVar(&o.enabled, "dht", true, "find peers through the DHT (BEP 5); never for private torrents")
	fs.IntVar(&o.port, "dht-port", 0, "UDP port of the DHT node (default: the --listen port + 1, so 6882, or any free port if taken)")
	fs.StringArrayVar(&o.bootstrap, "dht-bootstrap", nil, "join the DHT through this node, HOST:PORT; repeatable (default: the public routers, none when listening on loopback)")
}

// open starts a DHT node on the host of listen (so a loopback session has a
// loopback node), saving its state in dir/.swarm unless dir is ""; nil when the DHT is off or
// the torrent is private.
func (o *dhtOptions) open(listen string, private bool, dir string, log *zerolog.Logger) (*dht.Node, error) {
	if !o.enabled || private {
		return nil, nil
	}
	if o.port < 0 || o.port > 65535 {
		return nil, usagef("--dht-port %d: want 0 to 65535", o.port)
	}
	host, lport, err := net.SplitHostPort(listen)
	if err != nil {
		host, lport = "", "6881" // the default listen address, all interfaces
	}
	bootstrap := o.bootstrap
	if bootstrap == nil && !isLoopback(host) {
		bootstrap = defaultBootstrap
	}
	l := log.With().Str("component", "dht").Logger()
	cfg := dht.Config{Bootstrap: bootstrap, Logger: &l}
	if dir != "" { // "" keeps no state: seed writes nothing in its --data folder
		if err := os.MkdirAll(filepath.Join(dir, ".swarm"), 0o755); err != nil {
			return nil, err
		}
		cfg.StatePath = filepath.Join(dir, ".swarm", "dht.state")
	}
	ports := []int{o.port}
	if o.port == 0 {
		// UDP on the listen port is uTP's (libtorrent shares one socket
		// for both; we keep two): the DHT takes the next port.
		ports = []int{0}
		if p, err := strconv.Atoi(lport); err == nil && p > 0 && p < 65535 {
			ports = []int{p + 1, 0}
		}
	}
	for i, p := range ports {
		cfg.Addr = net.JoinHostPort(host, strconv.Itoa(p))
		n, err := dht.New(cfg)
		if err == nil {
			return n, nil
		}
		if i == len(ports)-1 {
			return nil, fmt.Errorf("DHT: %w", err)
		}
	}
	return nil, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// runDHT runs node until ctx ends or the returned stop is called; stop
// waits until the node has stopped, and may be called more than once.
func runDHT(ctx context.Context, node *dht.Node) (stop func()) {
	if node == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		node.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
