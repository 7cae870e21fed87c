package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"swarm/web"
)

// TestHandlerServesThePage checks what a browser gets: the page and its two
// files with their types and a strict CSP, 304 on revalidation, and nothing
// else.
func TestHandlerServesThePage(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script src="app.js" defer></script>`},
		{"/index.html", "text/html; charset=utf-8", "<title>swarm</title>"},
		{"/app.js", "text/javascript; charset=utf-8", "transmission/rpc"},
		{"/style.css", "text/css; charset=utf-8", "prefers-color-scheme: dark"},
	} {
		res, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != tc.ctype || !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s = %d %q (%d bytes), want 200 %q containing %q", tc.path, res.StatusCode, res.Header.Get("Content-Type"), len(body), tc.ctype, tc.contains)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("GET %s: Content-Security-Policy = %q, want default-src 'none'", tc.path, csp)
		}
		if xfo := res.Header.Get("X-Frame-Options"); xfo != "DENY" {
			t.Errorf("GET %s: X-Frame-Options = %q, want DENY (clickjacking)", tc.path, xfo)
		}
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		res2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s again: %v", tc.path, err)
		}
		res2.Body.Close()
		if res2.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s = %d, want 304", tc.path, res.Header.Get("ETag"), res2.StatusCode)
		}
	}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/nothing", 404},
		{"GET", "/static/app.js", 404},
		{"GET", "/transmission/rpc", 404},
		{"POST", "/", 405},
		{"HEAD", "/app.js", 200},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, res.StatusCode, tc.want)
		}
	}
}

// TestTransmissionsPagePathLeadsHere: /transmission/web/, where
// transmission-daemon serves its page (and where Transmission users'
// bookmarks point), redirects to the page.
func TestTransmissionsPagePathLeadsHere(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for _, path := range []string{"/transmission/web/", "/transmission/web"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Request.URL.Path != "/" || !strings.Contains(string(body), "<title>swarm</title>") {
			t.Errorf("GET %s ended at %s with %d, want the page at /", path, res.Request.URL.Path, res.StatusCode)
		}
	}
}
