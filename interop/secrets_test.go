package interop_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// leaksPasskey reports whether out holds any 12 characters of passkey past
// the first 4 (the masked form keeps those 4, as the tracker's own logs do).
func leaksPasskey(out, passkey string) bool {
	for i := 4; i+12 <= len(passkey); i++ {
		if strings.Contains(out, passkey[i:i+12]) {
			return true
		}
	}
	return false
}

// TestGetAndSeedNeverPrintThePasskey runs `swarm seed` and `swarm get`
// against `swarm tracker --private` with debug logs, also with a tracker
// that refuses the passkey, trackers that cannot be reached (HTTP with the
// passkey in the path and in the query, UDP with it in the BEP 41 path)
// a tracker whose failure reason echoes the request path, and a torrent URL
// that cannot be fetched, and checks that nothing either
// prints (stdout, stderr, logs) holds a passkey (issue 13).
func TestGetAndSeedNeverPrintThePasskey(t *testing.T) {
	s := newPrivateSetup(t, 1<<20)
	s.startTracker(t)
	alicePK := s.passkeyOf(t, s.announceURL(t, "alice"))
	bobPK := s.passkeyOf(t, s.announceURL(t, "bob"))
	strangerPK := "5e11" + strings.Repeat("c0ffee", 4) + "deadbeef"
	seedPort := freePort(t)
	seed := start(t, "", "swarm seed (alice)", swarmBin, "seed", s.torrents["alice"], "--data", s.src,
		"--listen", fmt.Sprintf("127.0.0.1:%d", seedPort), "--log-level", "debug")
	waitListening(t, seedPort, 30*time.Second)
	peer := fmt.Sprintf("127.0.0.1:%d", seedPort)
	down := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens: refused
	// A tracker whose failure reason echoes the request path, passkey and all.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reason := "invalid passkey in " + r.URL.Path
		fmt.Fprintf(w, "d14:failure reason%d:%se", len(reason), reason)
	}))
	t.Cleanup(echo.Close)

	type getRun struct {
		name     string
		args     []string
		exit     int
		mentions string // a masked URL the output must show, proving the path ran
	}
	runs := []getRun{
		{"through the tracker", []string{"--log-format", "console"}, 0, ""},
		{"through the tracker, json", []string{"--json"}, 0, ""},
		{"tracker refuses the passkey", []string{"--peer", peer, "-t", s.base + "/" + strangerPK + "/announce"}, 0,
			s.base + "/5e11…/announce"},
		{"trackers unreachable", []string{"--peer", peer, "--log-format", "console",
			"-t", "http://" + down + "/" + bobPK + "/announce",
			"-t", "http://" + down + "/announce?passkey=" + bobPK,
			"-t", "udp://" + down + "/" + bobPK + "/announce"}, 0,
			"/announce?passkey=" + bobPK[:4] + "…"},
		{"tracker echoes the passkey", []string{"--peer", peer, "--json", "-t", echo.URL + "/" + bobPK + "/announce"}, 0,
			"invalid passkey in /" + bobPK[:4] + "…/announce"},
	}
	var all strings.Builder
	for _, r := range runs {
		out := t.TempDir()
		args := append([]string{"get", s.torrents["bob"], "-o", out, "--listen", "127.0.0.1:0", "--log-level", "debug"}, r.args...)
		get := start(t, "", "swarm get ("+r.name+")", swarmBin, args...)
		err := get.wait(t, transferTimeout)
		if code := exitCode(err); code != r.exit {
			t.Fatalf("%s: exit status %d (%v), want %d", r.name, code, err, r.exit)
		}
		sameBytes(t, s.content, filepath.Join(out, "film.bin"))
		check(t, r.name, get.output(), r.mentions, alicePK, bobPK, strangerPK)
		all.WriteString(get.output())
	}
	// A private tracker's download link holds the passkey too.
	fetch := exec.Command(swarmBin, "get", "http://"+down+"/download.php?id=7&passkey="+bobPK, "-o", t.TempDir(), "--log-level", "debug")
	outB, err := fetch.CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Errorf("get of an unreachable torrent URL: exit status %d (%v), want 1", code, err)
	}
	check(t, "unreachable torrent URL", string(outB), "passkey="+bobPK[:4]+"…", bobPK)

	seed.cmd.Process.Signal(os.Interrupt)
	if err := seed.wait(t, 15*time.Second); err != nil {
		t.Errorf("seed after SIGINT: %v, want exit status 0", err)
	}
	check(t, "seed", seed.output(), "", alicePK, bobPK)
	if !t.Failed() {
		t.Logf("%d bytes printed by 5 downloads, 1 failed fetch and the seed; no passkey in any", all.Len()+len(outB)+len(seed.output()))
	}
}

// check fails the test if out holds any of the passkeys, or lacks mentions.
func check(t *testing.T, name, out, mentions string, passkeys ...string) {
	t.Helper()
	for _, pk := range passkeys {
		if leaksPasskey(out, pk) {
			t.Errorf("%s: the output holds the passkey %s…:\n%s", name, pk[:4], out)
		}
	}
	if mentions != "" && !strings.Contains(out, mentions) {
		t.Errorf("%s: the output never names %q:\n%s", name, mentions, out)
	}
}

// exitCode is the exit status of a finished command's Wait error.
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}
