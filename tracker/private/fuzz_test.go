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
