package session_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"swarm/peer"
	"swarm/session"
)

// TestSoak200Peers holds 200 peer connections to one seeding session on
// loopback for SWARM_SOAK_DURATION (skipped when unset; RELIABILITY.md gives
// the command): each peer is interested and, when unchoked, keeps four
// requests for random blocks out, and sends a keep-alive every minute. The session's goroutines and live heap
// are sampled every 10 s and must stay flat: the last sample within 10
// goroutines and 16 MiB of the first one taken with all peers connected.
func TestSoak200Peers(t *testing.T) {
	v := os.Getenv("SWARM_SOAK_DURATION")
	if v == "" {
		t.Skip("set SWARM_SOAK_DURATION (e.g. 5m) to run the soak")
	}
	duration, err := time.ParseDuration(v)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("SWARM_SOAK_HEAPPROFILE") != "" {
		// Sample every 4 KiB allocated rather than every 512 KiB, so
		// that growth of a few hundred KiB shows in the profiles.
		runtime.MemProfileRate = 4096
	}
	const peers = 200
	m, content := makeTorrent(t, 8<<20, 256<<10)
	n := m.Info.NumPieces()
	sess := newSession(t, session.Config{MaxPeers: peers + 10, UploadRate: 20 << 20})
	tor, err := sess.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(n), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	sess.AddTorrent(tor)
	runSession(t, sess)
	addr := addrOf(t, sess)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var received int64
	for i := range peers {
		c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var id [20]byte
		copy(id[:], "-XX0000-soak-")
		id[17], id[18], id[19] = byte('0'+i/100), byte('0'+i/10%10), byte('0'+i%10)
		if _, err := peer.Initiate(c, peer.NewHandshake(m.InfoHash, id)); err != nil {
			t.Fatal(err)
		}
		conn, _ := peer.NewConn(c, peer.Config{})
		conn.WriteMessage(peer.Message{ID: peer.Interested})
		wg.Go(func() {
			defer c.Close()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			request := func() error {
				p := r.IntN(n)
				return conn.WriteMessage(peer.Message{ID: peer.Request, Index: uint32(p), Begin: uint32(r.IntN(16)) * peer.BlockSize, Length: peer.BlockSize})
			}
			var got int64
			defer func() { mu.Lock(); received += got; mu.Unlock() }()
			// A choked peer sends nothing but keep-alives, as BEP 3
			// clients do (every 2 min; here every minute), or the
			// session's 3 min idle limit drops it.
			lastKeepAlive := time.Now()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if time.Since(lastKeepAlive) > time.Minute {
					conn.WriteMessage(peer.Message{KeepAlive: true})
					lastKeepAlive = time.Now()
				}
				c.SetReadDeadline(time.Now().Add(time.Second))
				var msg peer.Message
				if err := conn.ReadMessage(&msg); err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						continue
					}
					return
				}
				switch msg.ID {
				case peer.Unchoke:
					for range 4 {
						request()
					}
				case peer.Piece:
					got += int64(len(msg.Block))
					request()
				}
			}
		})
	}
	type sample struct {
		at         time.Duration
		goroutines int
		heap       uint64
		peers      int
	}
	var samples []sample
	start := time.Now()
	for time.Since(start) < duration {
		time.Sleep(min(10*time.Second, duration-time.Since(start)))
		samples = append(samples, sample{time.Since(start).Round(time.Second), runtime.NumGoroutine(), heapInUse(), tor.Stats().Peers})
		s := samples[len(samples)-1]
		saveHeapProfile(t, len(samples))
		t.Logf("%v: %d peers, %d goroutines, heap %.1f MiB, uploaded %d MiB", s.at, s.peers, s.goroutines, float64(s.heap)/(1<<20), tor.Stats().Uploaded>>20)
	}
	close(stop)
	wg.Wait()
	if len(samples) < 2 {
		t.Fatal("too short a soak for two samples")
	}
	first, last := samples[0], samples[len(samples)-1]
	if first.peers != peers || last.peers != peers {
		t.Errorf("peers connected: %d at first, %d at last, want %d", first.peers, last.peers, peers)
	}
	if last.goroutines > first.goroutines+10 {
		t.Errorf("goroutines grew from %d to %d", first.goroutines, last.goroutines)
	}
	if last.heap > first.heap+16<<20 {
		t.Errorf("heap grew from %d to %d bytes", first.heap, last.heap)
	}
	t.Logf("soak of %v with %d peers: goroutines %d -> %d, heap %.1f -> %.1f MiB, %d MiB uploaded",
		duration, peers, first.goroutines, last.goroutines, float64(first.heap)/(1<<20), float64(last.heap)/(1<<20), received>>20)
}

// saveHeapProfile writes the live heap's profile to
// $SWARM_SOAK_HEAPPROFILE/heap-N.pprof when that folder is set, so growth
// between two samples can be read with
// go tool pprof -sample_index=inuse_space -base heap-1.pprof heap-N.pprof.
func saveHeapProfile(t *testing.T, n int) {
	dir := os.Getenv("SWARM_SOAK_HEAPPROFILE")
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("heap-%d.pprof", n)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}
