package tracker_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"swarm/tracker"
)

const testPasskey = "97770123456789abcdef0123456789ab"

func TestMaskURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"public", "http://tracker.example:6969/announce", "http://tracker.example:6969/announce"},
		{"passkey path", "http://t.example/" + testPasskey + "/announce", "http://t.example/9777…/announce"},
		{"passkey path scrape", "https://t.example/" + testPasskey + "/scrape", "https://t.example/9777…/scrape"},
		{"passkey query", "http://127.0.0.1:6969/announce?passkey=" + testPasskey, "http://127.0.0.1:6969/announce?passkey=9777…"},
		{"passkey query php", "http://t.example/announce.php?uid=12345&passkey=" + testPasskey, "http://t.example/announce.php?uid=1234…&passkey=9777…"},
		{"bare query", "http://t.example/announce?" + testPasskey, "http://t.example/announce?9777…"},
		{"passkey after announce", "http://t.example/announce/" + testPasskey, "http://t.example/announce/9777…"},
		{"two segments", "https://t.example/a/" + testPasskey + "/announce", "https://t.example/a/9777…/announce"},
		{"names stay", "http://127.0.0.1:1/tracker/announce.php", "http://127.0.0.1:1/tracker/announce.php"},
		{"file name stays", "http://h.example/files/missing-file.torrent", "http://h.example/files/missing-file.torrent"},
		{"passkey file name", "http://h.example/dl/" + testPasskey + ".torrent", "http://h.example/dl/9777…"},
		{"short passkey", "http://t.example/0123456789abcdef/announce", "http://t.example/0123…/announce"},
		{"uuid", "http://t.example/123e4567-e89b-12d3-a456-426614174000/announce", "http://t.example/123e…/announce"},
		{"udp BEP 41 path", "udp://t.example:1337/" + testPasskey + "/announce", "udp://t.example:1337/9777…/announce"},
		{"udp public", "udp://t.example:1337/announce", "udp://t.example:1337/announce"},
		{"user info", "http://alice:" + testPasskey + "@t.example/announce", "http://…@t.example/announce"},
		{"fragment dropped", "http://t.example/announce#" + testPasskey, "http://t.example/announce"},
		{"bare path", "/" + testPasskey + "/announce", "/9777…/announce"},
		{"not a URL", testPasskey, "9777…"},
		{"empty", "", ""},
		{"host only", "http://t.example", "http://t.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tracker.MaskURL(tc.in); got != tc.want {
				t.Errorf("MaskURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestClientErrorsHidePasskey: whatever goes wrong, the error names the
// tracker without its passkey, even where net/http's *url.Error would print
// the whole request URL (issue 13).
func TestClientErrorsHidePasskey(t *testing.T) {
	// A port nothing listens on: the connection is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	srv := fakeTracker(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "status"):
			http.Error(w, "no", http.StatusForbidden)
		case strings.Contains(r.URL.Path, "slow"):
			<-r.Context().Done()
		default:
			w.Write([]byte("d14:failure reason7:refusede"))
		}
	})
	for _, u := range []string{
		"http://" + closed + "/" + testPasskey + "/announce",
		"http://" + closed + "/announce?passkey=" + testPasskey,
		srv.URL + "/" + testPasskey + "/announce",
		srv.URL + "/announce?passkey=" + testPasskey,
		srv.URL + "/status/" + testPasskey + "/announce",
		srv.URL + "/slow/" + testPasskey + "/announce",
		"ftp://t.example/" + testPasskey + "/announce",
		"http://t.example/" + testPasskey + "/announce\x7f",
		"udp://" + closed + "/" + testPasskey + "/announce",
		"udp://t.example:0/" + testPasskey + "/announce",
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		_, err := (&tracker.Client{UDPRetryInterval: 100 * time.Millisecond}).Announce(ctx, u, testRequest())
		cancel()
		if err == nil {
			t.Errorf("Announce(%q) succeeded, want an error", u)
			continue
		}
		if strings.Contains(err.Error(), testPasskey[4:]) {
			t.Errorf("Announce(%q) error = %q, shows the passkey", u, err)
		}
	}
}
