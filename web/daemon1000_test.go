package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"swarm/metainfo"
	"swarm/web"
)

// TestPageWith1000TorrentsFromSwarmDaemon measures the page in front of a
// real `swarm daemon` holding 1,000 small complete torrents, seeding idle
// (issue 16): time to first render and the browser's CPU per refresh, as
// TestPageWith1000TorrentsOnAStubRPC does with the stub. It logs the
// figures and asserts no time. Adding 1,000 torrents takes a while on a
// loaded machine, so it runs only with WEB_DAEMON_1000=1.
func TestPageWith1000TorrentsFromSwarmDaemon(t *testing.T) {
	if os.Getenv("WEB_DAEMON_1000") == "" {
		t.Skip("set WEB_DAEMON_1000=1 to measure the page with 1,000 torrents from swarm daemon")
	}
	const n = 1000
	srv := startSwarmDaemon(t)
	content := filepath.Join(t.TempDir(), "content")
	if err := os.MkdirAll(content, 0o755); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16<<10)
	for i := range n {
		rand.Read(buf)
		p := filepath.Join(content, fmt.Sprintf("page-%04d.bin", i))
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := metainfo.Build(context.Background(), metainfo.BuildConfig{Path: p, PieceLength: 16 << 10, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		call(t, srv, "torrent-add", map[string]any{"metainfo": base64.StdEncoding.EncodeToString(enc), "download-dir": content})
	}
	added := time.Now()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := call(t, srv, "torrent-get", map[string]any{"fields": []string{"id", "status"}})
		ts, _ := got["torrents"].([]any)
		seeding := 0
		for _, x := range ts {
			if x.(map[string]any)["status"] == 6.0 {
				seeding++
			}
		}
		if seeding == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d seeding after 2 minutes", seeding, n)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The page from this package in front of the daemon's RPC, through a
	// proxy that counts the torrent-get calls (the refreshes) and adds the
	// credentials; the daemon serves this same embedded page itself.
	u, _ := url.Parse(srv.pageURL)
	var gets atomic.Int64
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(&url.URL{Scheme: u.Scheme, Host: u.Host})
		r.Out.SetBasicAuth(srv.user, srv.password)
	}}
	mux := http.NewServeMux()
	mux.Handle("/transmission/rpc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if bytes.Contains(body, []byte(`"torrent-get"`)) {
			gets.Add(1)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	mux.Handle("/", web.Handler())
	front := httptest.NewServer(mux)
	defer front.Close()
	b := startBrowser(t, 1280, 800, "", "")
	// In the first minute after adding, every torrent is "recently-active"
	// (as in Transmission: added or started in the last 60 s), so each
	// refresh brings all 1,000; after it, only those with traffic.
	measurePage(t, b, front.URL+"/", "SWARM DAEMON, 1,000 torrents just added (all recently active)", gets.Load)
	b.shot("daemon-1000")
	time.Sleep(time.Until(added.Add(65 * time.Second)))
	measurePage(t, b, front.URL+"/", "SWARM DAEMON, 1,000 torrents seeding idle for a minute", gets.Load)
	b.waitFor("all 1,000 listed as seeding", `[...document.querySelectorAll('.filters button')].map(b => b.textContent.trim().replace(/\s+/g, ' ')).join(', ').startsWith('All 1000, Downloading 0, Seeding 1000')`, 10*time.Second)
	b.checkConsole()
}
