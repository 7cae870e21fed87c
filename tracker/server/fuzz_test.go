package server

import (
	"net/netip"
	"testing"
	"time"

	"swarm/tracker"
)

func FuzzParseAnnounce(f *testing.F) {
	for _, q := range []string{
		okBase,
		okBase + "&event=started&numwant=20&compact=0&no_peer_id=1&key=abc&trackerid=t",
		okBase + "&ip=10.0.0.1",
		okBase + "&ip=%3A%3A1&event=stopped",
		"info_hash=" + hash20 + "&info_hash=" + hash20,
		"info_hash=%zz&peer_id=%",
		"port=-1&left=-1&uploaded=99999999999999999999",
		"%69nfo_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=65535&uploaded=0&downloaded=0&left=0",
		"&&&=&==&%&",
		okBase + "&passkey=0123456789abcdef0123456789abcdef",
		okBase + "&pass%6bey=x&passkey=y",
	} {
		f.Add(q, true)
	}
	remote := netip.MustParseAddr("192.0.2.1")
	f.Fuzz(func(t *testing.T, q string, trust bool) {
		o := testParseOptions
		o.trustIP = trust
		o.passkeys = trust // both parameters' branches, without another argument
		r, err := parseAnnounce(q, remote, o)
		if err != nil {
			if err.reason == "" || err.field == "" {
				t.Fatalf("parseAnnounce(%q): empty failure %+v", q, err)
			}
			return
		}
		if r.Passkey != "" && !o.passkeys {
			t.Fatalf("parseAnnounce(%q): passkey %q read with passkeys off", q, r.Passkey)
		}
		if r.Port == 0 || r.Addr.Port() != r.Port || !r.Addr.Addr().IsValid() || r.Addr.Addr().Is4In6() {
			t.Fatalf("parseAnnounce(%q): bad address %v port %d", q, r.Addr, r.Port)
		}
		if r.Uploaded < 0 || r.Downloaded < 0 || r.Left < 0 || r.NumWant < 0 || r.NumWant > o.maxNumWant {
			t.Fatalf("parseAnnounce(%q): out-of-range values %+v", q, r.AnnounceRequest)
		}
		if !trust && r.Addr.Addr() != remote {
			t.Fatalf("parseAnnounce(%q): untrusted ip parameter used: %v", q, r.Addr)
		}
		// What the client encodes, the server reads back the same.
		again, err := parseAnnounce(r.Query(), remote, o)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", r.Query(), err)
		}
		want := r.AnnounceRequest
		if want.NumWant == 0 {
			want.NumWant = o.defaultNumWant // Query leaves numwant=0 out
		}
		if again.AnnounceRequest != want {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", q, again.AnnounceRequest, want)
		}
		// The registry takes any request the parser accepts.
		reg := newRegistry(1, 1, func() time.Time { return time.Unix(0, 0) }, time.Minute)
		var rp reply
		reg.announce(&r, &rp)
		if r.Event != tracker.EventStopped && rp.complete+rp.incomplete != 1 {
			t.Fatalf("after announce of %q: %d seeders %d leechers, want 1 peer", q, rp.complete, rp.incomplete)
		}
	})
}
