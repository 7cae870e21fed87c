package chart

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gonum.org/v1/plot"
)

func TestSavePNGDrawsADecodableImage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.png")
	l := Lines{
		Title: "t", XLabel: "N", YLabel: "s", LogX: true,
		Series: []Series{
			{Name: "measured", X: []float64{4, 8, 16}, Y: []float64{1, 2, 3}},
			{Name: "bound", X: []float64{4, 8, 16}, Y: []float64{1, 1.5, 2}, Dashed: true},
		},
	}
	if err := l.SavePNG(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Errorf("image is %v, want a readable size", b)
	}
}

func TestSavePNGRefusesBadSeries(t *testing.T) {
	dir := t.TempDir()
	for name, l := range map[string]Lines{
		"empty":      {},
		"mismatched": {Series: []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1}}}},
		"log of 0":   {LogX: true, Series: []Series{{Name: "a", X: []float64{0, 2}, Y: []float64{1, 1}}}},
	} {
		if err := l.SavePNG(filepath.Join(dir, "x.png")); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestTicksAreLabelledAndRound: a linear axis gets at least five labelled
// ticks at a round step, a log axis one label per x value of the data
// (the charts had two or three labels, and a log axis of 4…32 only "10").
func TestTicksAreLabelledAndRound(t *testing.T) {
	labels := func(ticks []plot.Tick) []string {
		var out []string
		for _, tk := range ticks {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
		{0, 410, []string{"0", "50", "100", "150", "200", "250", "300", "350", "400"}},
		{0, 14.3, []string{"0", "2", "4", "6", "8", "10", "12", "14"}},
		{4, 32, []string{"5", "10", "15", "20", "25", "30"}},
		{0, 1.2, []string{"0", "0.2", "0.4", "0.6", "0.8", "1", "1.2"}},
	} {
		if got := labels(roundTicks(tc.lo, tc.hi)); !slices.Equal(got, tc.want) {
			t.Errorf("roundTicks(%g, %g) labels %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
	v := valueTicks{4, 8, 16, 32, 8, 16}
	if got, want := labels(v.Ticks(3, 40)), []string{"4", "8", "16", "32"}; !slices.Equal(got, want) {
		t.Errorf("log axis labels %q, want %q", got, want)
	}
}
