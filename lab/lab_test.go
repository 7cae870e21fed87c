package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"swarm/session"
)

const mib = 1 << 20

// TestSwarmOfEightLeechersCompletes is issue 5's swarm test: a tracker, a
// seed and 8 leechers in one process on 127.0.0.1, every leecher ending with
// the seed's bytes (Run compares them).
func TestSwarmOfEightLeechersCompletes(t *testing.T) {
	res, err := Run(context.Background(), Config{Rates: Rates{Size: 4 * mib, Leechers: 8, SeedUpload: 8 * mib, Upload: 2 * mib}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("measured %.2f s, bound %.2f s, ratio %.2f, finish %.2f", res.Measured, res.Bound, res.Ratio, res.Finish)
	// Nothing can beat the bound: a ratio under 1 means the rate limits
	// leak or the clock is wrong.
	if res.Ratio < 1 {
		t.Errorf("ratio %.2f below the physical limit", res.Ratio)
	}
	for i, f := range res.Finish {
		if f <= 0 || f > res.Measured {
			t.Errorf("leecher %d finish %.2f s outside (0, %.2f]", i, f, res.Measured)
		}
	}
}

// TestFreeRiderFinishesLater shows tit-for-tat at work: in a rate-limited
// swarm, a leecher that never unchokes anyone is left to the optimistic
// slots and the seed's rotation, gets less from the leechers than one that
// uploads, and finishes after them on average. Leechers leave when done (so
// the free rider cannot live off them as seeds), pieces are small (so
// reciprocating leechers always have something to ask of each other and no
// upload capacity lies idle for the free rider to soak up), and the choker
// runs five times faster than default so its decisions, not the first
// come, decide who is served.
func TestFreeRiderFinishesLater(t *testing.T) {
	if testing.Short() {
		t.Skip("three 15 s swarms")
	}
	if raceEnabled {
		// scripts/test.sh runs this package again without -race.
		t.Skip("under the race detector the swarm is bound by CPU, not by its rate limits")
	}
	// One run's gap between the two groups is about a second of twelve,
	// with as much spread again (10 runs: one in five had the free riders
	// ahead), so the test pools three runs. What the seed and leechers served each
	// group (the trace) depends on the chokers' choices only, not on how
	// busy the machine is.
	const runs = 3
	var riders, others []float64
	var toRiders, toOthers int64
	var nRiders, nOthers int
	for run := range runs {
		var trace bytes.Buffer
		res, err := Run(context.Background(), Config{
			Rates:         Rates{Size: 8 * mib, Leechers: 20, SeedUpload: 2 * mib, Upload: mib},
			PieceLength:   32 << 10,
			FreeRiders:    5,
			LeaveWhenDone: true,
			Session:       session.Config{RechokeInterval: 2 * time.Second, OptimisticInterval: 6 * time.Second},
			Trace:         &trace,
		})
		if err != nil {
			t.Fatal(err)
		}
		var r, o []float64
		for i, f := range res.Finish {
			if res.FreeRider[i] {
				r = append(r, f)
			} else {
				o = append(o, f)
			}
		}
		tr, to := servedBefore(t, &trace, mean(o))
		t.Logf("run %d: free riders %.2f s (mean %.2f), had %.1f MiB (seed and leechers) before the others' mean; reciprocating leechers %.2f (mean %.2f), had %.1f MiB",
			run+1, r, mean(r), float64(tr)/mib, o, mean(o), float64(to)/mib)
		riders, others = append(riders, r...), append(others, o...)
		toRiders, toOthers = toRiders+tr, toOthers+to
		nRiders, nOthers = nRiders+len(r), nOthers+len(o)
	}
	perRider, perOther := float64(toRiders)/float64(nRiders)/mib, float64(toOthers)/float64(nOthers)/mib
	t.Logf("%d runs: free riders finished at %.2f s on average and had %.2f MiB each (seed and leechers) while the others downloaded; reciprocating leechers at %.2f s, %.2f MiB each",
		runs, mean(riders), perRider, mean(others), perOther)
	if mean(riders) <= mean(others) {
		t.Errorf("free riders finished at %.2f s on average over %d runs, no later than reciprocating leechers (%.2f s)", mean(riders), runs, mean(others))
	}
	if perRider >= perOther {
		t.Errorf("while reciprocating leechers downloaded, the seed and leechers served each free rider %.2f MiB, no less than each of them (%.2f MiB)", perRider, perOther)
	}
}

// servedBefore adds up what the seed and the leechers served free riders
// and the other leechers in slots that ended before the given time
// (seconds): once the reciprocating leechers are done, free riders are all
// that is left to serve, and get every slot.
func servedBefore(t *testing.T, trace *bytes.Buffer, before float64) (toRiders, toOthers int64) {
	t.Helper()
	for _, line := range bytes.Split(trace.Bytes(), []byte("\n")) {
		var e TraceEvent
		if !bytes.Contains(line, []byte(`"choke"`)) || json.Unmarshal(line, &e) != nil || e.T > before {
			continue
		}
		if strings.HasPrefix(e.To, "free rider") {
			toRiders += e.Bytes
		} else {
			toOthers += e.Bytes
		}
	}
	return toRiders, toOthers
}

// TestSuperSeedSwarmCompletes: a super-seed (BEP 16) as slow as each
// leecher gets the file to eight of them, byte for byte (Run compares).
func TestSuperSeedSwarmCompletes(t *testing.T) {
	res, err := Run(context.Background(), Config{Rates: Rates{Size: 2 * mib, Leechers: 8, SeedUpload: 2 * mib, Upload: 2 * mib},
		SuperSeed: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("measured %.2f s, bound %.2f s, ratio %.2f", res.Measured, res.Bound, res.Ratio)
}
