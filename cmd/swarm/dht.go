package main

import (
	"github.com/spf13/pflag"

	"swarm/session"
)

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

// config is the DHT node's config, saving its state in dir/.swarm unless
// dir is ""; nil when the DHT is off.
func (o *dhtOptions) config(dir string) (*session.DHTConfig, error) {
	if !o.enabled {
		return nil, nil
	}
	if o.port < 0 || o.port > 65535 {
		return nil, usagef("--dht-port %d: want 0 to 65535", o.port)
	}
	return &session.DHTConfig{Port: o.port, Bootstrap: o.bootstrap, StateDir: dir}, nil
}
