package lab

import (
	"math"
	"slices"
	"testing"
)

// TestUsageSplitsCapacityIntoSentIdleAndExtra: a seed that sends at its
// full rate throughout, and a leecher that sends nothing for the first half
// and then at its full rate, half of which nobody needed.
func TestUsageSplitsCapacityIntoSentIdleAndExtra(t *testing.T) {
	r := Rates{Size: 100, Leechers: 1, SeedUpload: 10, Upload: 10}
	tl := Timeline{
		At:   []float64{0, 5, 10},
		Sent: [][]int64{{0, 0}, {50, 0}, {100, 50}},
		Got:  [][]int64{{0}, {0}, {100}},
	}
	u := tl.usage(r, 10)
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	// Capacity 20 B/s × 10 s = 200 B: 150 sent, of which 100 needed.
	if !near(u.Idle, 0.25) || !near(u.Extra, 0.25) || !near(u.SeedIdle, 0) || !near(u.LeecherIdle, 0.5) {
		t.Errorf("idle %v extra %v seed idle %v leecher idle %v, want 0.25 0.25 0 0.5", u.Idle, u.Extra, u.SeedIdle, u.LeecherIdle)
	}
	want := []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0, 0}
	for i := range want {
		if !near(u.Phases[i], want[i]) {
			t.Fatalf("idle by tenth %v, want %v", u.Phases, want)
		}
	}
	if !slices.Equal(u.FirstByte, []float64{10}) {
		t.Errorf("first byte %v, want [10]", u.FirstByte)
	}
}
