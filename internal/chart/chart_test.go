package chart

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
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
