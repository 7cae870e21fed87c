package tracker_test

import (
	"context"
	"fmt"
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
		case strings.Contains(r.URL.Path, "echo"):
			// As /tmp/attack/echotracker.py: the reason repeats the request.
			reason := "invalid passkey in " + r.URL.Path + " " + r.URL.RawQuery
			fmt.Fprintf(w, "d14:failure reason%d:%se", len(reason), reason)
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
		srv.URL + "/echo/" + testPasskey + "/announce",
		srv.URL + "/echo/announce?passkey=" + testPasskey,
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

// TestMaskEchoed: text a tracker sends back is cleared of the secrets its URL
// carries, wherever they appear, while the rest of the message stays
// (found by an attacker review: a failure reason echoing the request path
// reached the warn log, the status line and --json).
func TestMaskEchoed(t *testing.T) {
	for _, tc := range []struct{ name, url, text, want string }{
		{"path passkey echoed", "http://t.example/" + testPasskey + "/announce",
			"invalid passkey in /" + testPasskey + "/announce", "invalid passkey in /9777…/announce"},
		{"twice", "http://t.example/" + testPasskey + "/announce",
			testPasskey + " is not " + testPasskey, "9777… is not 9777…"},
		{"query passkey", "http://t.example/announce?uid=7&passkey=" + testPasskey,
			"unknown passkey=" + testPasskey + " for uid=7", "unknown passkey=9777… for uid=7"},
		{"escaped in the URL, plain in the text", "http://t.example/announce?key=abc%2Fdef%2Fghi",
			"bad key abc/def/ghi", "bad key abc/…"},
		{"bare query", "http://t.example/announce?" + testPasskey, "no " + testPasskey, "no 9777…"},
		{"user info", "http://alice:s3cretpassword@t.example/announce", "alice:s3cretpassword refused", "alic… refused"},
		{"udp BEP 41 path", "udp://t.example:1337/" + testPasskey + "/announce", "bad " + testPasskey, "bad 9777…"},
		{"short query values stay", "http://t.example/announce?uid=12345&x=1", "uid 12345 banned, 1 warning", "uid 12345 banned, 1 warning"},
		{"names stay", "http://t.example/tracker/announce.php", "announce.php: tracker overloaded", "announce.php: tracker overloaded"},
		{"public", "http://t.example/announce", "unregistered torrent", "unregistered torrent"},
		{"empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tracker.MaskEchoed(tc.url, tc.text); got != tc.want {
				t.Errorf("MaskEchoed(%q, %q) = %q, want %q", tc.url, tc.text, got, tc.want)
			}
		})
	}
}

// TestClientMasksEchoedWarning: a warning message that echoes the passkey
// reaches the caller masked.
func TestClientMasksEchoedWarning(t *testing.T) {
	srv := fakeTracker(t, func(w http.ResponseWriter, r *http.Request) {
		warning := "passkey " + strings.Split(r.URL.Path, "/")[1] + " expires soon"
		fmt.Fprintf(w, "d8:intervali1800e5:peers0:15:warning message%d:%se", len(warning), warning)
	})
	resp, err := (&tracker.Client{}).Announce(t.Context(), srv.URL+"/"+testPasskey+"/announce", testRequest())
	if err != nil {
		t.Fatalf("Announce: %v", err)
	}
	if want := "passkey 9777… expires soon"; resp.WarningMessage != want {
		t.Errorf("WarningMessage = %q, want %q", resp.WarningMessage, want)
	}
}
