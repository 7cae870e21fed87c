package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"swarm/web"
)

// TestPageShowsHostileNamesAsText: torrent names and error strings come
// from strangers (a .torrent's name, a tracker's failure reason); the page
// must show them as text, never run or load what they hold. Each payload
// would set window.__xss or request /x (a console error) if it were
// parsed as HTML.
func TestPageShowsHostileNamesAsText(t *testing.T) {
	payloads := []string{
		`<img src=x onerror="window.__xss=1">`,
		`"><svg onload="window.__xss=2">`,
		`<script>window.__xss=3</script>`,
		`javascript:window.__xss=4`,
	}
	stub := newStubRPC(len(payloads))
	for i, p := range payloads {
		stub.torrents[i]["name"] = p
		stub.torrents[i]["error"], stub.torrents[i]["errorString"] = 2, p
	}
	mux := http.NewServeMux()
	mux.Handle("/transmission/rpc", stub)
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b := startBrowser(t, 1280, 800, "", "")
	b.run("load the page", chromedp.Navigate(srv.URL+"/"))
	for _, p := range payloads {
		b.waitFor("the row named "+p, rowIs(p, "true"), 20*time.Second)
	}
	time.Sleep(1500 * time.Millisecond) // a refresh or two, which redraw the rows
	q, _ := json.Marshal(payloads)
	got, err := eval[string](b, `(() => {
		if (window.__xss !== undefined) return 'ran payload ' + window.__xss;
		if (document.querySelector('#spacer img, #spacer svg:not([aria-hidden]), #spacer script')) return 'an element from a payload is in the list';
		const titles = [...document.querySelectorAll('#spacer .row .c-status')].map(c => c.title);
		for (const p of `+string(q)+`) if (!titles.some(t => t.includes(p))) return 'error string not shown as text: ' + p;
		return 'ok'; })()`)
	if err != nil || got != "ok" {
		t.Errorf("hostile names: %s (%v)", got, err)
	}
	b.shot("hostile-names")
	b.checkConsole()
}
