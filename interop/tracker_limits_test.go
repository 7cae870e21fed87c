package interop_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTrackerLimitsFromTheCommandLine runs `swarm tracker` with the limits
// an open tracker has against strangers (issue 13): --allow and --deny
// lists reread on SIGHUP, --max-swarms and --ip-rate, each answered with a
// failure reason a client shows.
func TestTrackerLimitsFromTheCommandLine(t *testing.T) {
	a, b, c := strings.Repeat("aa", 20), strings.Repeat("bb", 20), strings.Repeat("cc", 20)
	startTracker := func(t *testing.T, args ...string) (*proc, string) {
		t.Helper()
		p := start(t, t.TempDir(), "swarm tracker", swarmBin, append([]string{"tracker", "--listen", "127.0.0.1:0",
			"--log-level", "debug"}, args...)...)
		return p, p.waitFor(t, trackerURLRe, 10*time.Second)[1]
	}
	expect := func(t *testing.T, announce, ih, want string) {
		t.Helper()
		got := failureReason(t, announce, ih)
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("announce %s…: failure reason %q, want %q", ih[:8], got, want)
		}
	}
	const notAllowed, denied = "not on its allow list", "on its deny list"

	t.Run("allow and deny lists reread on SIGHUP", func(t *testing.T) {
		dir := t.TempDir()
		allow, deny := filepath.Join(dir, "allow.txt"), filepath.Join(dir, "deny.txt")
		write := func(path string, lines ...string) {
			t.Helper()
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(allow, "# what we track", a, b)
		write(deny, b)
		p, announce := startTracker(t, "--allow", allow, "--deny", deny)
		expect(t, announce, a, "")
		expect(t, announce, b, denied)
		expect(t, announce, c, notAllowed)

		reloaded := regexp.MustCompile(`info hash lists reloaded`)
		write(allow, b, c)
		write(deny, "")
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		p.waitFor(t, reloaded, 10*time.Second)
		if !strings.Contains(p.output(), `"swarms_dropped":1`) {
			t.Errorf("reload did not report a's swarm dropped:\n%s", grepLines(p.output(), "reloaded"))
		}
		expect(t, announce, a, notAllowed)
		expect(t, announce, b, "")
		expect(t, announce, c, "")

		// A broken file on SIGHUP leaves the lists as they were.
		write(allow, a, "not a hash")
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		p.waitFor(t, regexp.MustCompile(`line 2: .*not reloaded, the old ones stay`), 10*time.Second)
		expect(t, announce, a, notAllowed)
		expect(t, announce, b, "")
	})

	t.Run("max swarms", func(t *testing.T) {
		_, announce := startTracker(t, "--max-swarms", "2")
		expect(t, announce, a, "")
		expect(t, announce, b, "")
		expect(t, announce, c, "tracker is full")
		expect(t, announce, a, "") // a swarm already tracked carries on
	})

	t.Run("ip rate", func(t *testing.T) {
		_, announce := startTracker(t, "--ip-rate", "0.01", "--ip-burst", "3")
		for _, ih := range []string{a, b, c} {
			expect(t, announce, ih, "")
		}
		expect(t, announce, a, "too many announces from your address")
	})

	t.Run("a list that does not parse stops the start", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "allow.txt")
		if err := os.WriteFile(bad, []byte(a+"\nxyz\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := start(t, t.TempDir(), "swarm tracker", swarmBin, "tracker", "--listen", "127.0.0.1:0", "--allow", bad)
		if err := p.wait(t, 10*time.Second); err == nil || !strings.Contains(p.output(), "line 2") {
			t.Errorf("tracker with a bad --allow file: %v, output %q; want exit 1 naming line 2", err, p.output())
		}
	})
}
