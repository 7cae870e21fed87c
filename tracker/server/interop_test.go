package server_test

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

// startOpentracker runs opentracker on a free loopback port with ih
// whitelisted and returns its announce URL. It skips the test when
// opentracker is not installed.
func startOpentracker(tb testing.TB, ih metainfo.Hash) string {
	tb.Helper()
	bin, err := exec.LookPath("opentracker")
	if err != nil {
		tb.Skip("opentracker not installed")
	}
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "whitelist.txt"), []byte(hex.EncodeToString(ih[:])+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	// It chroots to dir, so the whitelist path is given inside it.
	cmd := exec.Command(bin, "-i", "127.0.0.1", "-p", port, "-w", "/whitelist.txt", "-d", dir, "-A", "127.0.0.1")
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := "127.0.0.1:" + port
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 250 { // 5 s
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr + "/announce"
		}
		<-tick.C
	}
	tb.Fatalf("opentracker did not listen on %s within 5 s", addr)
	return ""
}

type scrapeFiles struct {
	Files map[string]struct {
		Complete   int `bencode:"complete"`
		Incomplete int `bencode:"incomplete"`
		Downloaded int `bencode:"downloaded"`
	} `bencode:"files"`
}

// TestSameAnswersAsOpentracker plays one scenario against opentracker and
// against swarm's tracker, both over loopback with tracker.Client, and
// compares what the last peer is told.
func TestSameAnswersAsOpentracker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts opentracker")
	}
	ih := metainfo.Hash{0x17, 0x01, 0xab}
	s, _ := newTestServer(t, server.Config{})
	urls := map[string]string{
		"opentracker": startOpentracker(t, ih),
		"swarm":       runServer(t, s),
	}
	type result struct {
		complete, incomplete int64
		peers                []string
		downloaded           int
	}
	results := map[string]result{}
	for name, url := range urls {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var c tracker.Client
		send := func(n int, left int64, ev tracker.Event) tracker.AnnounceResponse {
			r := testPeer(ih, n, left)
			r.Event = ev
			resp, err := c.Announce(ctx, url, r)
			if err != nil {
				t.Fatalf("%s: peer %d %v: %v", name, n, ev, err)
			}
			return resp
		}
		send(1, 0, tracker.EventStarted)
		send(2, 10, tracker.EventStarted)
		send(3, 10, tracker.EventStarted)
		send(4, 10, tracker.EventStarted)
		send(4, 0, tracker.EventCompleted)
		send(2, 10, tracker.EventStopped)
		resp := send(5, 10, tracker.EventStarted)
		var others []string
		for _, p := range resp.Peers {
			if p.Port() != 10005 { // opentracker may hand a peer itself back
				others = append(others, p.String())
			}
		}
		slices.Sort(others)

		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url[:len(url)-len("announce")]+"scrape?info_hash="+string(tracker.AppendEscaped(nil, ih[:])), nil)
		hresp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s scrape: %v", name, err)
		}
		body, _ := io.ReadAll(io.LimitReader(hresp.Body, 1<<16))
		hresp.Body.Close()
		var sf scrapeFiles
		if err := bencode.Unmarshal(body, &sf); err != nil {
			t.Fatalf("%s scrape %q: %v", name, body, err)
		}
		results[name] = result{resp.Complete, resp.Incomplete, others, sf.Files[string(ih[:])].Downloaded}

		// Failures come back as FailureError from both.
		bad := testPeer(metainfo.Hash{0xee}, 9, 0) // not whitelisted for opentracker
		if name == "swarm" {
			bad.InfoHash = ih
			bad.Port = 0
		}
		if _, err := c.Announce(ctx, url, bad); err == nil {
			t.Errorf("%s: bad announce succeeded", name)
		} else if !errors.As(err, new(*tracker.FailureError)) {
			t.Errorf("%s: bad announce error %v, want a FailureError", name, err)
		}
	}
	ot, sw := results["opentracker"], results["swarm"]
	t.Logf("opentracker: %+v", ot)
	t.Logf("swarm:       %+v", sw)
	if ot.complete != sw.complete || ot.incomplete != sw.incomplete || ot.downloaded != sw.downloaded || !slices.Equal(ot.peers, sw.peers) {
		t.Errorf("answers differ:\nopentracker %+v\nswarm       %+v", ot, sw)
	}
	if sw.complete != 2 || sw.incomplete != 2 || len(sw.peers) != 3 || sw.downloaded != 1 {
		t.Errorf("swarm: %+v, want 2 seeders, 2 leechers, the 3 other peers, 1 download", sw)
	}
}
