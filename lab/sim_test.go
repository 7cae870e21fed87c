package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net"
	"os"
	"testing"
	"testing/synctest"

	"swarm/internal/memnet"
)

// memNetwork is an in-memory network for a run inside a synctest bubble.
// Its connections buffer 256 KiB each way, about what loopback sockets
// hold at these rates.
func memNetwork() *Network {
	n := &memnet.Network{BufferSize: 256 << 10}
	return &Network{Listen: func() (net.Listener, error) { return n.Listen("tcp", "127.0.0.1:0") }, Dial: n.Dial}
}

// TestSimulatedSwarmSendsNoExtraCopies runs a swarm on a fake clock and an
// in-memory network (no CPU load or scheduling in the figures, only the
// engine's choices) and checks where its upload capacity went: almost none
// on copies nobody needed. Before issue 20's fixes, blocks sent past a
// choke (released by the leecher although BEP 6 keeps them requested) and
// endgame copies taken by the writer before their cancel arrived were 7 to
// 9 % of the capacity in the same lab, most of the distance to the bound.
func TestSimulatedSwarmSendsNoExtraCopies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err := Run(context.Background(), Config{
			Rates:   Rates{Size: 4 * mib, Leechers: 8, SeedUpload: 8 * mib, Upload: 2 * mib},
			Network: memNetwork(),
		})
		if err != nil {
			t.Fatal(err)
		}
		u := res.Usage
		t.Logf("ratio %.3f, idle %.3f (seed %.3f, leechers %.3f), extra %.4f, idle by tenth %.2f, first bytes %.2f",
			res.Ratio, u.Idle, u.SeedIdle, u.LeecherIdle, u.Extra, u.Phases, u.FirstByte)
		if res.Ratio < 1 {
			t.Errorf("ratio %.3f below the physical limit", res.Ratio)
		}
		if u.Extra > 0.01 {
			t.Errorf("%.1f%% of the upload capacity went to copies nobody needed, want under 1%%", 100*u.Extra)
		}
		// What was sent and what was left idle add up to the capacity.
		if got := 1 / (1 - u.Idle - u.Extra); math.Abs(got-res.Ratio) > 0.05*res.Ratio {
			t.Errorf("ratio from idle and extra shares %.3f, measured %.3f", got, res.Ratio)
		}
		for i, fb := range u.FirstByte {
			if fb < 0 || fb > res.Finish[i] {
				t.Errorf("leecher %d: first block at %.2f s, finished at %.2f s", i, fb, res.Finish[i])
			}
		}
	})
}

// TestSimulatedSwarmBeyondFiftyPeersCompletes: more leechers than a peer
// keeps connections (50) or a tracker hands out addresses (numwant 50), so
// the file must travel through peers that never meet the seed; every
// leecher ends with the seed's bytes (Run checks them).
func TestSimulatedSwarmBeyondFiftyPeersCompletes(t *testing.T) {
	if testing.Short() || raceEnabled {
		// scripts/test.sh runs this package again without -race.
		t.Skip("80 peers: a minute of CPU under the race detector")
	}
	synctest.Test(t, func(t *testing.T) {
		res, err := Run(context.Background(), Config{
			Rates:       Rates{Size: 256 << 10, Leechers: 80, SeedUpload: 1280 << 10, Upload: 128 << 10},
			PieceLength: 16 << 10,
			Network:     memNetwork(),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ratio %.3f, idle %.3f, extra %.4f, idle by tenth %.2f", res.Ratio, res.Usage.Idle, res.Usage.Extra, res.Usage.Phases)
		if res.Ratio < 1 {
			t.Errorf("ratio %.3f below the physical limit", res.Ratio)
		}
	})
}

// TestSimulatedSwarmDoesNotBeatTheBound: with a file so small that a tenth
// of a second of every uploader's rate is a good part of it, the run still
// takes at least the bound. Before, each rate limiter started with a full
// bucket (a tenth of a second of its rate) and the seed's had refilled
// while the leechers were set up: the 4 leechers got 1.4 MiB of their
// 8 MiB for free and finished at 0.87 of the bound (issue 20).
func TestSimulatedSwarmDoesNotBeatTheBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err := Run(context.Background(), Config{
			Rates:   Rates{Size: 2 * mib, Leechers: 4, SeedUpload: 10 * mib, Upload: mib},
			Network: memNetwork(),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("D %.3f s, bound %.3f s, ratio %.3f", res.Measured, res.Bound, res.Ratio)
		if res.Ratio < 1 {
			t.Errorf("ratio %.3f: the swarm beat the physical limit, its rate limits let more through than their rates", res.Ratio)
		}
	})
}

// TestTraceCountsSlotsOfLeechersThatLeave: with leechers that leave once
// done, the trace's served totals still add up to what the peers uploaded.
// Before, a slot still open when its peer left, or at the end of the run,
// was never logged as ended (a slot was counted at its choke only): the
// served totals missed what those slots had sent, 28 % of the uploads in
// this swarm (issue 20).
func TestTraceCountsSlotsOfLeechersThatLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var trace bytes.Buffer
		res, err := Run(context.Background(), Config{
			Rates:         Rates{Size: 4 * mib, Leechers: 8, SeedUpload: 4 * mib, Upload: mib},
			LeaveWhenDone: true,
			Trace:         &trace,
			Network:       memNetwork(),
		})
		if err != nil {
			t.Fatal(err)
		}
		var served int64
		for _, line := range bytes.Split(trace.Bytes(), []byte("\n")) {
			var s TraceServed
			if bytes.Contains(line, []byte(`"served_bytes"`)) && json.Unmarshal(line, &s) == nil {
				served += s.Bytes
			}
		}
		var uploaded int64
		for _, n := range res.Timeline.Sent[len(res.Timeline.Sent)-1] {
			uploaded += n
		}
		t.Logf("slots served %d bytes, the peers uploaded %d", served, uploaded)
		// What leechers with few pieces take from their allowed-fast set
		// (BEP 6: 10 of the 16 pieces here) while choked is in no slot:
		// about 5 % of the uploads in this swarm. Before, 28 % was missing.
		if served < uploaded*9/10 {
			t.Errorf("the trace's slots served %d bytes, the peers uploaded %d: %d missing", served, uploaded, uploaded-served)
		}
	})
}

// TestSimulatedSeedStartsEveryLeecherAtOnce: in a new swarm the seed's
// slots turn over as soon as a holder has had a piece, so all 16 leechers
// soon have pieces to trade and their upload works from the first tenth
// of the run. Before (issue 20), the seed kept its first five takers until
// the rechoke 10 s later, 11 leechers waited up to 1.5 s for a first piece
// from them, and the first tenth of the run left 33–37 % of the swarm's
// upload capacity idle; now 10–13 %.
func TestSimulatedSeedStartsEveryLeecherAtOnce(t *testing.T) {
	if testing.Short() || raceEnabled {
		// scripts/test.sh runs this package again without -race.
		t.Skip("16 peers and 16 MiB: half a minute of CPU under the race detector")
	}
	synctest.Test(t, func(t *testing.T) {
		res, err := Run(context.Background(), Config{
			Rates:   Rates{Size: 16 * mib, Leechers: 16, SeedUpload: 10 * mib, Upload: mib},
			Network: memNetwork(),
		})
		if err != nil {
			t.Fatal(err)
		}
		u := res.Usage
		t.Logf("ratio %.3f, idle %.3f (seed %.3f, leechers %.3f), idle by tenth %.2f, first pieces at %.2f s",
			res.Ratio, u.Idle, u.SeedIdle, u.LeecherIdle, u.Phases, u.FirstByte)
		if u.Phases[0] > 0.22 {
			t.Errorf("%.0f%% of the upload capacity idle in the first tenth of the run, want at most 22%%", 100*u.Phases[0])
		}
	})
}

// TestSimulatedSeedFavoursUploaders: issue 20's free-rider swarm (N = 16,
// K = 4, F = 16 MiB) on a fake clock, ten runs pooled. The seed sees
// pieces travel through the leechers' haves and serves those that pass
// them on first: while reciprocating leechers download (slots that ended
// before their mean finish), it gives each free rider less than each of
// them. The figures depend on the chokers' choices only, not on the CPU,
// but the effect is small (3.7 against 4.1 MiB in ten runs) next to one run's
// spread (one CI run pooled three and got 4.17 against 4.10), so it runs
// only when asked: SWARM_LAB_STATS=1. The choke package's evidence tests
// check the rule itself on every run.
func TestSimulatedSeedFavoursUploaders(t *testing.T) {
	if os.Getenv("SWARM_LAB_STATS") == "" {
		t.Skip("a pooled measurement of a small effect: set SWARM_LAB_STATS=1 to run it")
	}
	if testing.Short() || raceEnabled {
		t.Skip("ten simulated swarms of 16: minutes of CPU under the race detector")
	}
	const runs, leechers, riders = 10, 16, 4
	var toRiders, toOthers int64
	var ratios []float64
	for range runs {
		synctest.Test(t, func(t *testing.T) {
			var trace bytes.Buffer
			res, err := Run(context.Background(), Config{
				Rates:      Rates{Size: 16 * mib, Leechers: leechers, SeedUpload: 10 * mib, Upload: mib},
				FreeRiders: riders,
				Network:    memNetwork(),
				Trace:      &trace,
			})
			if err != nil {
				t.Fatal(err)
			}
			r, o := res.Means()
			tr, to := servedBefore(t, &trace, o, "seed")
			t.Logf("free riders %.2f s, others %.2f s (%.2f×); before %.2f s the seed gave each free rider %.1f MiB, each other %.1f MiB",
				r, o, r/o, o, float64(tr)/riders/mib, float64(to)/(leechers-riders)/mib)
			toRiders, toOthers = toRiders+tr, toOthers+to
			ratios = append(ratios, r/o)
		})
	}
	perRider, perOther := float64(toRiders)/(runs*riders)/mib, float64(toOthers)/(runs*(leechers-riders))/mib
	t.Logf("%d runs: free riders finished %.2f× later; the seed gave each free rider %.2f MiB while the others downloaded, each other %.2f MiB",
		runs, ratios, perRider, perOther)
	if perRider >= perOther {
		t.Errorf("the seed gave each free rider %.2f MiB while the others downloaded, no less than each of them (%.2f MiB)", perRider, perOther)
	}
}
