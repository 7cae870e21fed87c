package lab

import (
	"context"
	"testing"
)

func TestRunDeliversTheFileToEveryLeecher(t *testing.T) {
	const mib = 1 << 20
	res, err := Run(context.Background(), Config{Rates: Rates{Size: 4 * mib, Leechers: 4, SeedUpload: 4 * mib, Upload: mib}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("measured %.2f s, bound %.2f s, ratio %.2f, finish %v", res.Measured, res.Bound, res.Ratio, res.Finish)
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
