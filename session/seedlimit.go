package session

import "time"

// SeedLimits end seeding: the share ratio (Stats.Ratio) and the time spent
// complete. Zero means no limit.
type SeedLimits struct {
	Ratio float64
	Time  time.Duration
}

// Names of the seed limits, as Reached returns them.
const (
	EndSeedRatio = "seed-ratio"
	EndSeedTime  = "seed-time"
)

// Reached names the limit st meets after seeding for seeded (EndSeedRatio,
// EndSeedTime), or returns "".
func (l SeedLimits) Reached(st Stats, seeded time.Duration) string {
	switch {
	case l.Ratio > 0 && st.Ratio() >= l.Ratio:
		return EndSeedRatio
	case l.Time > 0 && seeded >= l.Time:
		return EndSeedTime
	}
	return ""
}

// Percent is the share of the wanted bytes verified, 0 to 100.
func (st Stats) Percent() float64 {
	if st.Wanted <= 0 {
		return 100
	}
	return 100 * float64(st.Wanted-st.Left) / float64(st.Wanted)
}

// Ratio is the share ratio: bytes uploaded this run over the size of the
// wanted content, as aria2c counts it. A seed reaches 1.0 after serving
// one whole copy.
func (st Stats) Ratio() float64 {
	if st.Wanted <= 0 {
		return 0
	}
	return float64(st.Uploaded) / float64(st.Wanted)
}

// ETA estimates the time left at the current download rate; false when
// nothing is left or nothing arrives.
func (st Stats) ETA() (time.Duration, bool) {
	if st.Left <= 0 || st.DownRate < 1 {
		return 0, false
	}
	return time.Duration(float64(st.Left) / st.DownRate * float64(time.Second)), true
}
