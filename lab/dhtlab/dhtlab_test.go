package dhtlab_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"swarm/lab/dhtlab"
)

func TestRunMeasuresLookupsAndChurn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var reported []dhtlab.Result
	res, err := dhtlab.Run(ctx, dhtlab.Config{Sizes: []int{16, 48}, Lookups: 40, Churn: 0.25, Seed: 1},
		func(r dhtlab.Result) { reported = append(reported, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || len(reported) != 2 {
		t.Fatalf("got %d results and %d reports, want 2 each", len(res), len(reported))
	}
	for _, r := range res {
		if r.Lookups != 40 || r.ChurnLookups != 40 {
			t.Errorf("N=%d: %d lookups and %d under churn, want 40 each", r.N, r.Lookups, r.ChurnLookups)
		}
		// Behaviour, not speed: lookups find the closest node, in a number
		// of hops bounded by log2 N (plus one for the first query).
		if r.FoundClosest < 0.9 {
			t.Errorf("N=%d: found the closest node in %.0f%% of lookups, want ≥ 90%%", r.N, 100*r.FoundClosest)
		}
		if r.MeanHops < 1 || r.MeanHops > r.Log2N+1 || r.P99Hops > 2*r.Log2N {
			t.Errorf("N=%d: mean hops %.2f, p99 %.0f; want within log2 N = %.1f", r.N, r.MeanHops, r.P99Hops, r.Log2N)
		}
		if r.MeanMessages < r.MeanHops {
			t.Errorf("N=%d: %.1f messages for %.2f hops", r.N, r.MeanMessages, r.MeanHops)
		}
		if r.Churn < 0.2 || r.ChurnFoundClosest < 0.75 {
			t.Errorf("N=%d: churn %.2f, found closest under churn %.0f%%; want 0.25 and ≥ 75%%", r.N, r.Churn, 100*r.ChurnFoundClosest)
		}
	}
	png := filepath.Join(t.TempDir(), "hops.png")
	if err := dhtlab.Plot(res, png); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(png); err != nil || fi.Size() == 0 {
		t.Fatalf("plot not written: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]dhtlab.Config{
		"no sizes":        {},
		"size 1":          {Sizes: []int{1}},
		"negative lookup": {Sizes: []int{4}, Lookups: -1},
		"churn 1":         {Sizes: []int{4}, Churn: 1},
	}
	for name, cfg := range cases {
		if _, err := dhtlab.Run(context.Background(), cfg, nil); err == nil {
			t.Errorf("%s: Run accepted %+v", name, cfg)
		}
	}
}
