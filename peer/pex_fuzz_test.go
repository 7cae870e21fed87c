package peer_test

import (
	"testing"

	"swarm/peer"
)

// FuzzPexMessage: ParsePexMessage never panics, keeps within its limits, and what it
// accepts marshals to bytes that parse back to the same message.
func FuzzPexMessage(f *testing.F) {
	f.Add([]byte("d5:added6:\x7f\x00\x00\x01\xa4\x107:added.f1:\x026:added60:8:added6.f0:7:dropped0:8:dropped60:e"))
	f.Add([]byte("d5:added6:\xc0\x00\x02\x01\x1a\xe1e"))
	f.Add([]byte("d6:added618:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe18:added6.f1:\x04e"))
	f.Add([]byte("d5:added7:1234567e"))
	f.Add([]byte("de"))

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := peer.ParsePexMessage(data)
		if err != nil {
			return
		}
		for _, n := range []int{len(m.Added), len(m.Dropped), len(m.Added6), len(m.Dropped6)} {
			if n > peer.MaxPexEntries {
				t.Fatalf("ParsePexMessage(%q) kept %d entries of a list, limit %d", data, n, peer.MaxPexEntries)
			}
		}
		if m.AddedFlags != nil && len(m.AddedFlags) != len(m.Added) || m.Added6Flags != nil && len(m.Added6Flags) != len(m.Added6) {
			t.Fatalf("ParsePexMessage(%q) = %+v: flags do not match their entries", data, m)
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal(ParsePexMessage(%q)) failed: %v", data, err)
		}
		back, err := peer.ParsePexMessage(b)
		if err != nil || !samePex(back, m) {
			t.Fatalf("ParsePexMessage(Marshal(%+v)) = %+v, %v, want the same", m, back, err)
		}
	})
}
