package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/cdproto/systeminfo"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"swarm/web"
)

// stubRPC is a FAKE Transmission RPC holding n made-up torrents. It exists
// only to measure the page itself (time to first render and browser CPU
// per refresh with 1,000 torrents) and to check its layouts and keys,
// which need a large, fixed list that no real server gives in a test. It
// speaks just enough of the protocol for that (the 409 handshake,
// torrent-get with and without "recently-active", session-get,
// session-stats); what the page makes of a real server is checked by
// TestPageDrivesTransmission.
type stubRPC struct {
	mu       sync.Mutex
	torrents []map[string]any
	tick     int
	gets     atomic.Int64 // torrent-get calls answered
}

var words = []string{"debian", "ubuntu", "arch", "fedora", "alpine", "gentoo", "mint", "void", "nixos", "suse"}

func newStubRPC(n int) *stubRPC {
	s := &stubRPC{}
	now := time.Now().Unix()
	for i := 1; i <= n; i++ {
		size := int64(1+i%97) << 24
		done := float64(i%10) / 9
		status := []int{4, 6, 0, 6, 4, 6, 6, 3, 6, 6}[i%10]
		t := map[string]any{
			"id": i, "name": fmt.Sprintf("%s-%04d.iso", words[i%len(words)], i), "status": status,
			"error": 0, "errorString": "", "percentDone": done, "sizeWhenDone": size,
			"leftUntilDone": int64(float64(size) * (1 - done)), "rateDownload": 0, "rateUpload": 0,
			"uploadRatio": float64(i%7) / 3, "eta": -1, "peersConnected": i % 5, "peersSendingToUs": i % 3,
			"peersGettingFromUs": i % 2, "addedDate": now - int64(i)*3600, "queuePosition": i, "isFinished": false,
		}
		if i%50 == 0 {
			t["error"], t["errorString"] = 3, "No data found! Ensure your drives are connected"
		}
		s.torrents = append(s.torrents, t)
	}
	return s
}

func (s *stubRPC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Transmission-Session-Id") != "stub" {
		w.Header().Set("X-Transmission-Session-Id", "stub")
		w.WriteHeader(http.StatusConflict)
		return
	}
	var req struct {
		Method    string
		Arguments struct{ IDs any }
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	args := map[string]any{}
	switch req.Method {
	case "torrent-get":
		s.gets.Add(1)
		if req.Arguments.IDs != "recently-active" {
			args["torrents"] = s.torrents
			break
		}
		// Each second, 50 torrents change rate and progress: a busy seedbox.
		s.tick++
		var changed []map[string]any
		for k := range 50 {
			t := s.torrents[(s.tick*50+k)%len(s.torrents)]
			t["rateDownload"] = (s.tick*7919 + k*104729) % (4 << 20)
			t["rateUpload"] = (s.tick*104729 + k*7919) % (1 << 20)
			if p := t["percentDone"].(float64); p < 1 {
				t["percentDone"] = min(1, p+0.001)
			}
			changed = append(changed, t)
		}
		args["torrents"], args["removed"] = changed, []int{}
	case "session-stats":
		args = map[string]any{"downloadSpeed": 50 << 20, "uploadSpeed": 12 << 20, "activeTorrentCount": 50,
			"torrentCount": len(s.torrents), "pausedTorrentCount": 100}
	case "session-get":
		args = map[string]any{"download-dir": "/srv/torrents", "version": "stub", "rpc-version": 16}
	default:
		json.NewEncoder(w).Encode(map[string]any{"result": "method not in the stub: " + req.Method})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"result": "success", "arguments": args})
}

// metrics returns the browser's cumulative main-thread durations, in
// seconds, by name (TaskDuration, ScriptDuration, LayoutDuration, ...).
func (b *browser) metrics() map[string]float64 {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, performance.GetMetrics, cdp.Empty{})
	if err != nil {
		b.t.Fatalf("Performance.getMetrics: %v", err)
	}
	m := map[string]float64{}
	for _, x := range res.Metrics {
		m[x.Name] = x.Value
	}
	return m
}

// cpu returns the CPU seconds chromium's processes have used: the
// renderers' and all processes' (browser, GPU, network included).
func (b *browser) cpu() (renderer, all float64) {
	b.t.Helper()
	res, err := chromedp.CallBrowser(b.ctx, systeminfo.GetProcessInfo, cdp.Empty{})
	if err != nil {
		b.t.Fatalf("SystemInfo.getProcessInfo: %v", err)
	}
	for _, p := range res.ProcessInfo {
		if p.Type == "renderer" {
			renderer += p.CPUTime
		}
		all += p.CPUTime
	}
	return renderer, all
}

// TestPageWith1000TorrentsOnAStubRPC measures the page with 1,000 torrents
// served by the FAKE stubRPC (see there why): the time to the first render
// of the list, and the browser's main-thread time per one-second refresh
// (50 torrents changed each time). It logs the figures and asserts no time:
// it checks that only the visible rows exist, that the filters count the
// whole list, the keyboard, and the 375 px, 1920 px and dark layouts.
func TestPageWith1000TorrentsOnAStubRPC(t *testing.T) {
	stub := newStubRPC(1000)
	mux := http.NewServeMux()
	mux.Handle("/transmission/rpc", stub)
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b := startBrowser(t, 1280, 800, "", "")
	rowsInDOM := measurePage(t, b, srv.URL+"/", "STUB RPC, 1,000 torrents, 50 changed per refresh", stub.gets.Load)
	b.shot("stub-1000")

	counts, err := eval[string](b, `[...document.querySelectorAll('.filters button')].map(b => b.textContent.trim().replace(/\s+/g, ' ')).join(', ')`)
	if err != nil || counts != "All 1000, Downloading 300, Seeding 600, Paused 100, Error 20" {
		t.Errorf("filter counts = %q (%v), want All 1000, Downloading 300, Seeding 600, Paused 100, Error 20", counts, err)
	}
	if rowsInDOM == 0 || rowsInDOM > 60 {
		t.Errorf("%d row elements for 1,000 torrents in an 800 px window; want only the visible ones (1-60)", rowsInDOM)
	}

	if os.Getenv("WEB_PROFILE") != "" {
		ms, _ := eval[float64](b, `(() => { const t0 = performance.now(); for (let i = 0; i < 100; i++) relist(); return (performance.now() - t0) / 100; })()`)
		ms2, _ := eval[float64](b, `(() => { const t0 = performance.now(); for (let i = 0; i < 100; i++) record({}); return (performance.now() - t0) / 100; })()`)
		ms3, _ := eval[float64](b, `(() => { const t0 = performance.now(); for (let i = 0; i < 100; i++) renderNow(); return (performance.now() - t0) / 100; })()`)
		t.Logf("relist %.3f ms, record %.3f ms, renderNow %.3f ms", ms, ms2, ms3)
	}
	// Sorting by name puts alpine-0004.iso first (names are word-NNNN.iso).
	b.run("sort by name", chromedp.Click(chromedp.CSS(`#head button[data-sort="name"]`)))
	b.waitFor("alpine-0004.iso first", `document.querySelector('#spacer .row[aria-rowindex="1"] .c-name')?.textContent === 'alpine-0004.iso'`, 5*time.Second)

	// Keys: End goes to the last row, Space selects it, Shift+Up extends,
	// Ctrl+A selects every row shown, Escape clears; "/" goes to the filter.
	b.run("keyboard", chromedp.Click(chromedp.CSS(`#spacer .row[aria-rowindex="1"] .c-name`)),
		chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.End), chromedp.KeyEvent(" "))
	b.waitFor("the last row selected", `document.querySelector('#spacer .row[aria-rowindex="1000"]')?.getAttribute('aria-selected') === 'true' && document.getElementById('sel-count').textContent === '1 selected'`, 5*time.Second)
	b.run("shift+up", chromedp.KeyEvent(kb.ArrowUp, chromedp.KeyModifiers(chromedp.ModifierShift)))
	b.waitFor("two selected", `document.getElementById('sel-count').textContent === '2 selected'`, 5*time.Second)
	b.run("ctrl+a", chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.waitFor("all selected", `document.getElementById('sel-count').textContent === '1000 selected'`, 5*time.Second)
	b.run("escape", chromedp.KeyEvent(kb.Escape))
	b.waitFor("none selected", `document.getElementById('sel-count').textContent === ''`, 5*time.Second)
	b.run("go to the filter", chromedp.KeyEvent("/"))
	b.waitFor("the filter focused", `document.activeElement.id === 'search'`, 5*time.Second)
	// The protocol's key events also send the "/" as a char event, which a
	// real key press whose keydown was cancelled does not: drop it.
	b.run("filter by text", chromedp.Evaluate[chromedp.Void](`document.getElementById('search').value = ''`), chromedp.KeyEvent("gentoo-00"))
	b.waitFor("10 gentoo rows", `document.querySelectorAll('#spacer .row:not([hidden])').length === 10`, 5*time.Second)
	b.run("clear the filter", chromedp.Evaluate[chromedp.Void](`(s => { s.value = ""; s.dispatchEvent(new Event("input")); })(document.getElementById("search"))`))

	// A phone: nothing wider than the screen, cards instead of columns.
	b.run("375 px", chromedp.EmulateViewport(375, 740))
	b.waitFor("no horizontal scrolling at 375 px", `document.documentElement.scrollWidth <= 375 && document.querySelector('#spacer .row').offsetHeight === 70`, 5*time.Second)
	b.shot("phone-375")
	b.run("details at 375 px", chromedp.Evaluate[chromedp.Void](`document.querySelector('#spacer .row:not([hidden])').dispatchEvent(new MouseEvent('dblclick', {bubbles: true}))`))
	b.waitFor("the five detail tabs within 375 px", `(t => t.checkVisibility() && t.scrollWidth <= t.clientWidth)(document.querySelector('#detail-dlg .tabs'))`, 5*time.Second)
	b.shot("phone-375-details")
	b.run("close the details", chromedp.KeyEvent(kb.Escape))
	b.run("1920 px", chromedp.EmulateViewport(1920, 1080))
	b.waitFor("every column at 1920 px", `getComputedStyle(document.querySelector('#head .c-added')).display !== 'none' && getComputedStyle(document.querySelector('#head .c-peers')).display !== 'none'`, 5*time.Second)
	b.shot("wide-1920")
	// The status column holds error messages: on a wide screen it takes a
	// share of the room, not 10rem beside a name column of 1,000 px.
	b.waitFor("a status column of 300 px or more at 1920 px", `document.querySelector('#head .c-status').offsetWidth >= 300`, 5*time.Second)
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the dark colours", `getComputedStyle(document.body).backgroundColor === 'rgb(21, 24, 28)'`, 5*time.Second)
	b.shot("dark")
	b.checkConsole()
}

// measurePage loads the page at url in b and logs, under label, the time to
// its first render and the browser's CPU per refresh over 10 refreshes;
// gets counts the torrent-get calls the server has answered. It returns
// the number of row elements in the page.
func measurePage(t *testing.T, b *browser, url, label string, gets func() int64) int {
	t.Helper()
	if _, err := chromedp.Call(b.ctx, performance.Enable, performance.EnableParams{}); err != nil {
		t.Fatalf("Performance.enable: %v", err)
	}
	b.run("load the page", chromedp.Navigate(url))
	b.waitFor("the first render", `performance.getEntriesByName('swarm-first-render').length > 0`, 20*time.Second)
	first, err := eval[float64](b, `performance.getEntriesByName('swarm-first-render')[0].startTime`)
	if err != nil {
		t.Fatal(err)
	}
	// The page's own share: from the end of the full torrent-get (the
	// longest RPC answer) to the first render.
	own, _ := eval[float64](b, `(() => {
		const full = performance.getEntriesByType('resource').filter(e => e.name.endsWith('transmission/rpc')).sort((a, b) => b.duration - a.duration)[0];
		return performance.getEntriesByName('swarm-first-render')[0].startTime - full.responseEnd; })()`)
	rowsInDOM, _ := eval[int](b, `document.querySelectorAll('#spacer .row').length`)

	// CPU per refresh: the browser's main-thread time over 10 refreshes.
	time.Sleep(2 * time.Second)
	m0, g0 := b.metrics(), gets()
	r0, a0 := b.cpu()
	deadline := time.Now().Add(30 * time.Second)
	for gets() < g0+10 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	m1, g1 := b.metrics(), gets()
	r1, a1 := b.cpu()
	n := float64(g1 - g0)
	if n < 10 {
		t.Fatalf("only %v refreshes in 30 s", n)
	}
	per := func(k string) float64 { return (m1[k] - m0[k]) / n * 1000 }
	t.Logf("%s: first render %.0f ms after navigation start, %.0f ms of it after the full torrent-get arrived; "+
		"per refresh: CPU %.1f ms in the renderer, %.1f ms in all of chromium's processes; main thread busy %.2f ms "+
		"(script %.2f, layout %.2f, style %.2f); %d row elements in the DOM",
		label, first, own, (r1-r0)/n*1000, (a1-a0)/n*1000, per("TaskDuration"), per("ScriptDuration"), per("LayoutDuration"), per("RecalcStyleDuration"), rowsInDOM)
	return rowsInDOM
}
