package server

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

// leanSeeds are requests that parseLean serves, or must hand to net/http.
var leanSeeds = []string{
	"GET /announce?" + okBase + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	"GET /scrape?info_hash=" + hash20 + " HTTP/1.0\r\n\r\n",
	"GET /announce?a=b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
	"GET /announce?a=b HTTP/1.1\r\nHost: t\r\n\r\n",
	"GET /0123abcd/announce?a=b HTTP/1.1\r\nhost: t\r\nconnection: TE, close\r\nUser-Agent: x\r\n\r\n",
	"GET /../announce HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	"GET /%61nnounce HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	"GET /announce HTTP/1.1\nHost: t\nConnection: close\n\n",
	"GET /announce HTTP/1.1\r\nHost: t\r\nHost: u\r\nConnection: close\r\n\r\n",
	"GET /announce HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
	"GET /announce HTTP/1.1\r\nHost: t\r\nConnection: close\r\n folded\r\n\r\n",
	"POST /announce HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	"GET http://t/announce HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	"GET /metrics HTTP/1.0\r\n\r\n",
	"GET /announce HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /announce HTTP/1.1\r\n\r\n",
	"GET /announce HTTP/1.1\r\nHo st: t\r\n\r\n",
	"GET /announce HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n",
	"GET /announce HTTP/1.1\r\nHost: t\r\nConn",
}

// FuzzLeanRequest checks parseLean against net/http's own parser: a request
// the lean path serves must be one http.ReadRequest reads as the same GET
// of the same path and query, with nothing after it, that asks for the
// connection to close. Seeds are leanSeeds and testdata/fuzz/FuzzLeanRequest.
func FuzzLeanRequest(f *testing.F) {
	for _, s := range leanSeeds {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, passkeys bool) {
		req, st := parseLean(b, passkeys)
		if st == leanMore && len(b) > 0 && headerEnd(b) >= 0 {
			t.Fatalf("parseLean(%q) wants more after the headers ended", b)
		}
		if st != leanServe {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("parseLean(%q) serves what net/http refuses: %v", b, err)
		}
		path := "/announce"
		if req.scrape {
			path = "/scrape"
		}
		if req.passkey != "" {
			if !passkeys {
				t.Fatalf("parseLean(%q): passkey %q with passkeys off", b, req.passkey)
			}
			path = "/" + req.passkey + path
		}
		switch {
		case r.Method != http.MethodGet || r.URL.Path != path || r.URL.RawQuery != req.query:
			t.Fatalf("parseLean(%q) = %+v, net/http reads %s %s ? %s", b, req, r.Method, r.URL.Path, r.URL.RawQuery)
		case !r.Close:
			t.Fatalf("parseLean(%q) serves a request that keeps the connection", b)
		case r.ContentLength != 0 || len(r.TransferEncoding) != 0:
			t.Fatalf("parseLean(%q) serves a request with a body", b)
		case (r.ProtoMinor == 0) != req.http10:
			t.Fatalf("parseLean(%q): http10 %v, net/http reads %s", b, req.http10, r.Proto)
		}
	})
}

func TestParseLean(t *testing.T) {
	for i, s := range leanSeeds {
		req, st := parseLean([]byte(s), true)
		want := leanHandoff
		switch i {
		case 0, 1, 4:
			want = leanServe
		case len(leanSeeds) - 1:
			want = leanMore
		}
		if st != want {
			t.Errorf("parseLean(%q) = %v, want %v", s, st, want)
		}
		if i == 4 && (req.passkey != "0123abcd" || req.query != "a=b" || req.scrape || req.http10) {
			t.Errorf("parseLean(%q) = %+v", s, req)
		}
		if i == 1 && (!req.scrape || !req.http10) {
			t.Errorf("parseLean(%q) = %+v", s, req)
		}
	}
	if _, st := parseLean([]byte(leanSeeds[4]), false); st != leanHandoff {
		t.Errorf("a passkey path without a Hook: %v, want handoff", st)
	}
}
