package private_test

import (
	"strings"
	"testing"

	"swarm/tracker/private"
)

// FuzzParsePasskey: the passkey segment of a request path is untrusted. It
// parses exactly when it is 32 hex characters, and then prints back as
// itself in lower case.
func FuzzParsePasskey(f *testing.F) {
	for _, s := range []string{"", "0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789abcdef",
		"0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdefa", "g123456789abcdef0123456789abcdef", "announce"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := private.ParsePasskey(s)
		valid := len(s) == 32 && strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
		if (err == nil) != valid {
			t.Fatalf("ParsePasskey(%q) error %v, want valid=%v", s, err, valid)
		}
		if err == nil && p.String() != strings.ToLower(s) {
			t.Fatalf("ParsePasskey(%q).String() = %q", s, p.String())
		}
	})
}

// FuzzParseBan: ban ranges come from an admin's command line or a site's
// API. A range that parses is masked, never an IPv4-mapped address, and
// parses back to itself from its text.
func FuzzParseBan(f *testing.F) {
	for _, s := range []string{"192.0.2.7", "192.0.2.7/24", "2001:db8::/32", "::ffff:192.0.2.7", "::ffff:192.0.2.0/120",
		"::ffff:0:0/95", "fe80::1%eth0", "0.0.0.0/0", "::/0", "1.2.3.4/", "/24", " 10.0.0.1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := private.ParseBan(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("ParseBan(%q) = %v: want a valid, masked, unmapped prefix", s, p)
		}
		if again, err := private.ParseBan(p.String()); err != nil || again != p {
			t.Fatalf("ParseBan(%q) = %v, which parses back as %v, %v", s, p, again, err)
		}
	})
}

// FuzzParseClientPrefix: a prefix that parses is 1 to 20 printable ASCII
// characters and is kept as given.
func FuzzParseClientPrefix(f *testing.F) {
	for _, s := range []string{"-qB4", "-TR3", "-lt20", "-SW01", "M7-", "", "-qB 4", "-qB4\x00", strings.Repeat("x", 21), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := private.ParseClientPrefix(s)
		if err != nil {
			return
		}
		if p != s || len(p) < 1 || len(p) > 20 || strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
			t.Fatalf("ParseClientPrefix(%q) = %q: want it unchanged, 1 to 20 printable ASCII characters", s, p)
		}
	})
}
