package interop_test

import (
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGetExitStatus sends real signals to the built binary: `swarm get`
// exits 0 only when the download is complete (or a seeding limit ended the
// seeding after it), 130 when SIGINT and 143 when SIGTERM stopped it
// before, so that `swarm get x && play x` never plays a partial file; a
// seed stopped by either signal exits 0 (issue 13, README "Exit status").
func TestGetExitStatus(t *testing.T) {
	parent, torrent := content(t, "single")
	seedPort := swarmSeed(t, torrent, parent)
	peer := fmt.Sprintf("127.0.0.1:%d", seedPort)
	nowhere := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens
	magnet := "magnet:?xt=urn:btih:" + infoHash(t, torrent) + "&x.pe=" + nowhere
	started := regexp.MustCompile(`pieces already verified`)
	fetching := regexp.MustCompile(`fetching the metadata`)
	completed := regexp.MustCompile(`complete: `)
	for _, tc := range []struct {
		name   string
		args   []string
		wait   *regexp.Regexp // printed before the signal; nil: no signal, the command ends by itself
		sig    syscall.Signal
		status int
	}{
		{"complete", []string{torrent, "--peer", peer}, nil, 0, 0},
		{"SIGINT before completion", []string{torrent}, started, syscall.SIGINT, 130},
		{"SIGTERM before completion", []string{torrent}, started, syscall.SIGTERM, 143},
		{"SIGINT while fetching a magnet's metadata", []string{magnet}, fetching, syscall.SIGINT, 130},
		{"--seed, SIGTERM before completion", []string{torrent, "--seed"}, started, syscall.SIGTERM, 143},
		{"--seed, SIGINT after completion", []string{torrent, "--seed", "--peer", peer}, completed, syscall.SIGINT, 0},
		{"--seed-time reached after completion", []string{torrent, "--seed-time", "1s", "--peer", peer}, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"get"}, tc.args...)
			args = append(args, "-o", t.TempDir(), "--listen", "127.0.0.1:0", "--dht=false")
			get := start(t, "", "swarm get", swarmBin, args...)
			if tc.wait != nil {
				get.waitFor(t, tc.wait, transferTimeout)
				if err := get.cmd.Process.Signal(tc.sig); err != nil {
					t.Fatal(err)
				}
			}
			err := get.wait(t, transferTimeout)
			if code := exitCode(err); code != tc.status {
				t.Fatalf("exit status %d (%v), want %d\n%s", code, err, tc.status, get.output())
			}
			if tc.status != 0 && !strings.Contains(get.output(), "interrupted before the download") {
				t.Errorf("exit status %d without saying why:\n%s", tc.status, get.output())
			}
			t.Logf("exit status %d", tc.status)
		})
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run("seed stopped by "+sig.String(), func(t *testing.T) {
			port := freePort(t)
			seed := start(t, "", "swarm seed", swarmBin, "seed", torrent, "--data", parent, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
			waitListening(t, port, 30*time.Second)
			seed.cmd.Process.Signal(sig)
			if err := seed.wait(t, 15*time.Second); err != nil {
				t.Errorf("seed after %v: %v, want exit status 0", sig, err)
			}
		})
	}
}
