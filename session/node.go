package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/rs/zerolog"

	"swarm/dht"
)

// DefaultListenAddr is where a Node accepts peers when its config names no
// address: the port BitTorrent clients have used since the first one.
const DefaultListenAddr = ":6881"

// DefaultBootstrap are the public DHT routers libtorrent and Transmission
// start from.
var DefaultBootstrap = []string{"router.bittorrent.com:6881", "dht.transmissionbt.com:6881", "router.utorrent.com:6881"}

// DHTConfig says how a Node starts its DHT node (BEP 5).
type DHTConfig struct {
	// Port is the node's UDP port; 0 means the listen port + 1 (UDP on the
	// listen port is uTP's), or any free port if that one is taken.
	Port int
	// Bootstrap are the nodes to join through, HOST:PORT; nil means
	// DefaultBootstrap, or none when the session listens on loopback.
	Bootstrap []string
	// StateDir is the folder whose StateDir subfolder keeps the routing
	// table across runs (dht.state); "" keeps no state.
	StateDir string
}

// NodeConfig configures a Node.
type NodeConfig struct {
	// Session configures the session. Its ListenAddr "" means
	// DefaultListenAddr, or any free port if that one is taken; its DHT
	// is the node the Node starts (set it to nil).
	Session Config
	// DHT, if set, starts a DHT node beside the session, on the host of
	// the listen address (a loopback session gets a loopback node).
	DHT *DHTConfig
}

// Node is what a front end starts once: a running Session and the DHT
// node its public torrents announce to. Its methods are the Session's;
// Stop ends both.
type Node struct {
	*Session
	// DHT is the running DHT node, nil without one.
	DHT *dht.Node

	stopSession context.CancelFunc
	done        chan struct{} // closed when the session and the DHT node have stopped
	err         error         // the session's Run; read after done
}

// StartNode opens the DHT node and the session, and runs both until ctx
// ends or Stop is called. On an error nothing is left open.
func StartNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	if cfg.Session.DHT != nil {
		return nil, errors.New("session: NodeConfig.Session.DHT is the Node's to start; use NodeConfig.DHT")
	}
	var node *dht.Node
	if cfg.DHT != nil {
		var err error
		if node, err = openDHT(cfg.Session.ListenAddr, *cfg.DHT, cfg.Session.Logger); err != nil {
			return nil, err
		}
	}
	cfg.Session.DHT = node
	s, err := listenDefault(cfg.Session)
	if err != nil {
		if node != nil {
			node.Close()
		}
		return nil, err
	}
	sctx, stopSession := context.WithCancel(ctx)
	n := &Node{Session: s, DHT: node, stopSession: stopSession, done: make(chan struct{})}
	// The DHT node outlives the session, so that the torrents' last DHT
	// lookups end before it does; it stops once the session has.
	dctx, stopDHT := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	if node != nil {
		wg.Go(func() { node.Run(dctx) })
	}
	go func() {
		defer close(n.done)
		n.err = s.Run(sctx)
		stopDHT()
		wg.Wait()
	}()
	return n, nil
}

// Stop stops the session (its torrents tell their trackers and save their
// resume records) and then the DHT node (which saves its state), and
// returns once both have stopped, with the error of the session's Run. It
// may be called more than once, from any goroutine.
func (n *Node) Stop() error {
	n.stopSession()
	<-n.done
	return n.err
}

// listenDefault opens the session on cfg.ListenAddr (or cfg.Listener), or
// on DefaultListenAddr and, if that is taken, on any free port.
func listenDefault(cfg Config) (*Session, error) {
	if cfg.ListenAddr != "" || cfg.Listener != nil {
		return New(cfg)
	}
	cfg.ListenAddr = DefaultListenAddr
	if s, err := New(cfg); err == nil {
		return s, nil
	}
	cfg.ListenAddr = ":0"
	return New(cfg)
}

// openDHT opens a DHT node for a session that will listen on listen, as
// cfg says.
func openDHT(listen string, cfg DHTConfig, log *zerolog.Logger) (*dht.Node, error) {
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("DHT port %d: want 0 to 65535", cfg.Port)
	}
	if listen == "" {
		listen = DefaultListenAddr
	}
	host, lport, err := net.SplitHostPort(listen)
	if err != nil {
		host, lport = "", "6881"
	}
	bootstrap := cfg.Bootstrap
	if bootstrap == nil && !isLoopbackHost(host) {
		bootstrap = DefaultBootstrap
	}
	l := zerolog.Nop()
	if log != nil {
		l = log.With().Str("component", "dht").Logger()
	}
	dc := dht.Config{Bootstrap: bootstrap, Logger: &l}
	if cfg.StateDir != "" {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, StateDir), 0o755); err != nil {
			return nil, err
		}
		dc.StatePath = filepath.Join(cfg.StateDir, StateDir, "dht.state")
	}
	ports := []int{cfg.Port}
	if cfg.Port == 0 {
		// UDP on the listen port is uTP's (libtorrent shares one socket
		// for both; we keep two): the DHT takes the next port.
		if p, err := strconv.Atoi(lport); err == nil && p > 0 && p < 65535 {
			ports = []int{p + 1, 0}
		}
	}
	for i, p := range ports {
		dc.Addr = net.JoinHostPort(host, strconv.Itoa(p))
		n, err := dht.New(dc)
		if err == nil {
			return n, nil
		}
		if i == len(ports)-1 {
			return nil, fmt.Errorf("DHT: %w", err)
		}
	}
	return nil, nil // not reached: ports is never empty
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
