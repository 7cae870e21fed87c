// Command preload fills a tracker with swarms of peers through announces, for
// the benchmark in bench/tracker, and can write the info hashes as a
// whitelist for opentracker. Swarm s has info hash 0x5b 0x00 s(4 bytes, big
// endian) then 14 bytes 0x5b; peer p of it is 127.0.0.1 port 10000+p, peer id
// "-BENCH-" s p, and seeds when p%5 == 0. announce.lua uses the same scheme.
//
// For private mode, --setup-db first registers --torrents torrents (swarms
// 0 to torrents-1; at least the swarms announced) and --users users in a
// tracker/private database (a SQLite file or a postgres:// URL) and writes
// their passkeys to --passkeys, one a line; announces given --passkeys then go to
// /PASSKEY/announce, peer p of swarm s as user (s*peers+p) mod users.
package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/private"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "preload:", err)
		os.Exit(1)
	}
}

// InfoHash returns the info hash of swarm s.
func InfoHash(s int) metainfo.Hash {
	var h metainfo.Hash
	for i := range h {
		h[i] = 0x5b
	}
	h[1] = 0
	binary.BigEndian.PutUint32(h[2:6], uint32(s))
	return h
}

func peerID(s, p int) [20]byte {
	var id [20]byte
	copy(id[:], fmt.Sprintf("-BENCH-%07d%06d", s, p))
	return id
}

func run(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("preload", pflag.ContinueOnError)
	url := fs.String("url", "", "announce URL")
	swarms := fs.Int("swarms", 10000, "number of swarms")
	peers := fs.Int("peers", 100, "peers per swarm")
	workers := fs.Int("workers", 32, "announces in flight")
	whitelist := fs.String("whitelist", "", "write the info hashes (hex, one a line) here and exit")
	setupDB := fs.String("setup-db", "", "private mode: register the swarms and --users users in this database, write --passkeys, and exit")
	users := fs.Int("users", 10000, "private mode: number of users")
	torrents := fs.Int("torrents", 0, "private mode: torrents to register; 0 means --swarms")
	passkeys := fs.String("passkeys", "", "private mode: passkeys file (written by --setup-db, read when announcing)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *whitelist != "" {
		var b strings.Builder
		for s := range *swarms {
			h := InfoHash(s)
			b.WriteString(hex.EncodeToString(h[:]) + "\n")
		}
		return os.WriteFile(*whitelist, []byte(b.String()), 0o644)
	}
	if *setupDB != "" {
		return setup(ctx, *setupDB, max(*torrents, *swarms), *users, *passkeys)
	}
	if *url == "" {
		return errors.New("--url is required")
	}
	var keys []string
	if *passkeys != "" {
		b, err := os.ReadFile(*passkeys)
		if err != nil {
			return err
		}
		keys = strings.Fields(string(b))
		if len(keys) == 0 {
			return fmt.Errorf("%s holds no passkeys", *passkeys)
		}
	}
	client := &tracker.Client{HTTP: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: *workers, MaxConnsPerHost: *workers},
	}}
	var (
		next   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
		total  = int64(*swarms) * int64(*peers)
		start  = time.Now()
	)
	for range *workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				s, p := int(i/int64(*peers)), int(i%int64(*peers))
				left := int64(1 << 20)
				if p%5 == 0 {
					left = 0
				}
				req := tracker.AnnounceRequest{
					InfoHash: InfoHash(s), PeerID: peerID(s, p), Port: uint16(10000 + p),
					Left: left, Event: tracker.EventStarted, NumWant: 1, Compact: true,
				}
				u := *url
				if keys != nil {
					u = strings.Replace(u, "/announce", "/"+keys[int(i%int64(len(keys)))]+"/announce", 1)
				}
				if _, err := client.Announce(ctx, u, req); err != nil {
					if failed.Add(1) <= 5 {
						fmt.Fprintln(os.Stderr, "preload:", err)
					}
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Fprintf(os.Stderr, "preload: %d announces in %.1fs (%.0f/s), %d failed\n", total, el.Seconds(), float64(total)/el.Seconds(), failed.Load())
	if failed.Load() > 0 {
		return fmt.Errorf("%d announces failed", failed.Load())
	}
	return nil
}

// setup registers the torrents and makes the users in a private tracker
// database, and writes the passkeys to path.
func setup(ctx context.Context, dbPath string, torrents, users int, path string) error {
	if path == "" {
		return errors.New("--setup-db needs --passkeys")
	}
	db, err := private.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	for s := range torrents {
		if err := db.AddTorrent(ctx, private.Torrent{InfoHash: InfoHash(s), Name: fmt.Sprintf("bench-%d", s), Size: 1 << 20}); err != nil {
			return err
		}
	}
	var b strings.Builder
	for u := range users {
		user, err := db.AddUser(ctx, fmt.Sprintf("user%d", u))
		if err != nil {
			return err
		}
		b.WriteString(user.Passkey.String() + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
