package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"swarm/metainfo"
	"swarm/tracker/private"
)

// TestTrackerRulesCommands walks through the site's rules from the command
// line: client allow list, bans, torrent kinds, site-wide windows, and the
// hit-and-run and cheat lists (empty on a new database).
func TestTrackerRulesCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tracker.db")
	pdb, err := private.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	h := metainfo.Hash{0xab}
	if err := pdb.AddTorrent(context.Background(), private.Torrent{InfoHash: h, Name: "album"}); err != nil {
		t.Fatal(err)
	}
	pdb.Close()
	mustRun := func(args ...string) string {
		t.Helper()
		out, errOut, code := runSwarm(t, append(args, "--db", db)...)
		if code != 0 {
			t.Fatalf("swarm %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	if out := mustRun("tracker", "client", "list"); !strings.Contains(out, "every client may announce") {
		t.Errorf("client list on an empty list = %q", out)
	}
	mustRun("tracker", "client", "allow", "-qB4", "-TR3", "-LT20", "-SW01")
	var rules []private.ClientRule
	if err := json.Unmarshal([]byte(mustRun("tracker", "client", "list", "--json")), &rules); err != nil || len(rules) != 4 {
		t.Errorf("client list --json = %+v, %v; want 4 prefixes", rules, err)
	}
	mustRun("tracker", "client", "disallow", "-TR3")
	if out := mustRun("tracker", "client", "list"); strings.Contains(out, "-TR3") || !strings.Contains(out, "-qB4") {
		t.Errorf("client list after disallow -TR3 = %q", out)
	}

	mustRun("tracker", "ban", "add", "192.0.2.0/24", "2001:db8::1", "--reason", "abuse")
	if out := mustRun("tracker", "ban", "list"); !strings.Contains(out, "192.0.2.0/24") || !strings.Contains(out, "2001:db8::1/128") || !strings.Contains(out, "abuse") {
		t.Errorf("ban list = %q", out)
	}
	// Adding what is there again is no error, as for 'torrent add' (before:
	// exit 1 for bans, client prefixes and windows, 0 for torrents).
	if out := mustRun("tracker", "ban", "add", "192.0.2.0/24"); out != "192.0.2.0/24 already banned\n" {
		t.Errorf("ban add twice printed %q", out)
	}
	if out := mustRun("tracker", "client", "allow", "-qB4"); out != "client prefix \"-qB4\" already allowed\n" {
		t.Errorf("client allow twice printed %q", out)
	}
	mustRun("tracker", "ban", "remove", "2001:db8::1")
	if out := mustRun("tracker", "ban", "list"); strings.Contains(out, "2001:db8::1") {
		t.Errorf("ban list after remove = %q", out)
	}

	if out := mustRun("tracker", "torrent", "set", h.String(), "--freeleech"); !strings.Contains(out, "is freeleech") {
		t.Errorf("torrent set --freeleech printed %q", out)
	}
	if out := mustRun("tracker", "torrent", "list"); !strings.Contains(out, "freeleech") {
		t.Errorf("torrent list = %q, want the kind", out)
	}
	mustRun("tracker", "torrent", "set", h.String(), "--double-upload")

	mustRun("tracker", "freeleech", "--from", "2026-12-24T18:00:00Z", "--until", "48h")
	if out := mustRun("tracker", "freeleech", "add", "--from", "2026-12-24T18:00:00Z", "--until", "48h"); !strings.HasSuffix(out, " already set\n") {
		t.Errorf("freeleech add twice printed %q", out)
	}
	// Both spellings of double upload are read; one is printed.
	mustRun("tracker", "freeleech", "--from", "2027-01-01T00:00:00Z", "--until", "1h", "--kind", "double-upload")
	if out := mustRun("tracker", "freeleech", "add", "--from", "2027-01-01T00:00:00Z", "--until", "1h", "--kind", "double_upload"); !strings.Contains(out, "double_upload") || !strings.HasSuffix(out, " already set\n") {
		t.Errorf("freeleech --kind double_upload after double-upload printed %q", out)
	}
	mustRun("tracker", "freeleech", "remove", "--from", "2027-01-01T00:00:00Z", "--until", "1h", "--kind", "double-upload")
	var ws []private.FreeleechWindow
	if err := json.Unmarshal([]byte(mustRun("tracker", "freeleech", "list", "--json")), &ws); err != nil || len(ws) != 1 ||
		ws[0].Kind != private.KindFreeleech || ws[0].End.Sub(ws[0].Start).Hours() != 48 {
		t.Errorf("freeleech list --json = %+v, %v; want one 48 h freeleech window", ws, err)
	}
	mustRun("tracker", "freeleech", "remove", "--from", "2026-12-24T18:00:00Z", "--until", "2026-12-26T18:00:00Z")
	if out := mustRun("tracker", "freeleech", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("freeleech list after remove = %q, want []", out)
	}
	for _, noun := range []string{"hnr", "cheats"} {
		if out := mustRun("tracker", noun, "--json"); strings.TrimSpace(out) != "[]" {
			t.Errorf("%s --json on a new database = %q, want []", noun, out)
		}
	}

	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"tracker", "client", "disallow", "-XX1"}, 1, "not found"},
		{[]string{"tracker", "freeleech", "--until", "1h", "--kind", "triple"}, 2, "neutral or double_upload"},
		{[]string{"tracker", "client", "allow", "-q B"}, 2, "printable"},
		{[]string{"tracker", "client", "allow"}, 2, "want one or more PREFIX"},
		{[]string{"tracker", "ban", "add", "host.example"}, 2, "IP address or a CIDR"},
		{[]string{"tracker", "ban", "remove", "198.51.100.1"}, 1, "not found"},
		{[]string{"tracker", "torrent", "set", h.String()}, 2, "exactly one of"},
		{[]string{"tracker", "torrent", "set", h.String(), "--neutral", "--normal"}, 2, "exactly one of"},
		{[]string{"tracker", "torrent", "set", metainfo.Hash{1}.String(), "--neutral"}, 1, "not found"},
		{[]string{"tracker", "freeleech", "--from", "now"}, 2, "--until"},
		{[]string{"tracker", "freeleech", "--from", "tomorrow", "--until", "1h"}, 2, "RFC 3339"},
		{[]string{"tracker", "freeleech", "--until", "-1h"}, 2, "not after"},
		{[]string{"tracker", "freeleech", "--until", "1h", "--kind", "normal"}, 2, "--kind"},
		{[]string{"tracker", "hnr", "--user", "nobody"}, 1, "not found"},
		{[]string{"tracker", "cheats", "frob"}, 2, "unknown command"},
		{[]string{"tracker", "--private", "--max-rate", "fast"}, 2, "--max-rate"},
	} {
		_, errOut, code := runSwarm(t, append(tt.args, "--db", db)...)
		if code != tt.code || !strings.Contains(errOut, tt.err) {
			t.Errorf("swarm %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.err)
		}
	}
}
