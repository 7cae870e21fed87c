package lab

import (
	"math"
	"testing"
)

func TestBoundsFollowTheFormulas(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name    string
		r       Rates
		p2p, cs float64
	}{
		// Textbook case: upload capacity is the limit, the P2P time stays
		// near F/u while client-server grows with N.
		{"capacity bound", Rates{Size: 16 * mib, Leechers: 16, SeedUpload: 10 * mib, Upload: mib}, 16.0 * 16 / 26, 16 * 16.0 / 10},
		// One leecher: the seed's upload is the limit either way.
		{"seed bound", Rates{Size: 16 * mib, Leechers: 1, SeedUpload: 2 * mib, Upload: mib}, 8, 8},
		// A slow downloader dominates both.
		{"download bound", Rates{Size: 16 * mib, Leechers: 4, SeedUpload: 10 * mib, Upload: mib, Download: mib / 2}, 32, 32},
	} {
		if got := tc.r.P2PBound(); math.Abs(got-tc.p2p) > 1e-9 {
			t.Errorf("%s: P2PBound = %g, want %g", tc.name, got, tc.p2p)
		}
		if got := tc.r.ClientServer(); math.Abs(got-tc.cs) > 1e-9 {
			t.Errorf("%s: ClientServer = %g, want %g", tc.name, got, tc.cs)
		}
	}
}

func TestRatesRefusesWhatHasNoBound(t *testing.T) {
	for _, r := range []Rates{
		{Size: 0, Leechers: 1, SeedUpload: 1, Upload: 1},
		{Size: 1, Leechers: 0, SeedUpload: 1, Upload: 1},
		{Size: 1, Leechers: 1, SeedUpload: 0, Upload: 1},
		{Size: 1, Leechers: 1, SeedUpload: 1, Upload: 0},
		{Size: 1, Leechers: 1, SeedUpload: 1, Upload: 1, Download: -1},
	} {
		if err := r.check(); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}
