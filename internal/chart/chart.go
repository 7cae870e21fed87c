package chart

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named line; X and Y have the same length.
type Series struct {
	Name string
	X, Y []float64
	// Dashed draws a reference line (a bound, a model) rather than a
	// measurement.
	Dashed bool
}

// Lines is a chart of several series sharing both axes.
type Lines struct {
	Title, XLabel, YLabel string
	Series                []Series
	// LogX puts the x axis on a log scale (swarm sizes 4, 8, 16, 32).
	LogX bool
}

// palette is distinguishable in print and for the common colour blindness.
var palette = []color.Color{
	color.RGBA{0x00, 0x72, 0xb2, 0xff}, // blue
	color.RGBA{0xd5, 0x5e, 0x00, 0xff}, // vermillion
	color.RGBA{0x00, 0x9e, 0x73, 0xff}, // green
	color.RGBA{0xcc, 0x79, 0xa7, 0xff}, // purple
	color.RGBA{0xe6, 0x9f, 0x00, 0xff}, // orange
	color.RGBA{0x56, 0xb4, 0xe9, 0xff}, // sky
}

// glyphs tell series apart where colours do not (print, colour blindness).
var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PyramidGlyph{}, draw.PlusGlyph{},
}

// legendShare is the part of the plot's height each legend entry takes,
// about; SavePNG raises the y axis by that much per entry so that the
// legend, top left, sits above the data rather than over it.
const legendShare = 0.075

// SavePNG writes the chart to path as a 16×10 cm PNG. The y axis starts at
// 0 (all values are durations or counts), both axes carry labelled ticks
// at round values (a log x axis at the x values of the data), and the
// legend keeps clear of the lines.
func (l Lines) SavePNG(path string) error {
	if len(l.Series) == 0 {
		return errors.New("chart: no series")
	}
	p := plot.New()
	p.Title.Text = l.Title
	p.X.Label.Text = l.XLabel
	p.Y.Label.Text = l.YLabel
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(6)
	p.Add(plotter.NewGrid())
	var xs []float64
	maxY := 0.0
	for i, s := range l.Series {
		if len(s.X) != len(s.Y) || len(s.X) == 0 {
			return fmt.Errorf("chart: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		pts := make(plotter.XYs, len(s.X))
		for j := range s.X {
			if l.LogX && s.X[j] <= 0 {
				return fmt.Errorf("chart: series %q: x = %g on a log axis", s.Name, s.X[j])
			}
			pts[j].X, pts[j].Y = s.X[j], s.Y[j]
			xs = append(xs, s.X[j])
			maxY = max(maxY, s.Y[j])
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("chart: series %q: %w", s.Name, err)
		}
		c := palette[i%len(palette)]
		line.Color, points.Color = c, c
		points.Shape = glyphs[i%len(glyphs)]
		line.Width = vg.Points(1.5)
		if s.Dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line, points)
		p.Legend.Add(s.Name, line, points)
	}
	p.Y.Min = 0
	p.Y.Max = max(maxY, 1) / (1 - legendShare*float64(len(l.Series)+1))
	p.Y.Tick.Marker = plot.TickerFunc(roundTicks)
	if l.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = valueTicks(xs)
	} else {
		p.X.Tick.Marker = plot.TickerFunc(roundTicks)
	}
	return p.Save(16*vg.Centimeter, 10*vg.Centimeter, path)
}

// roundTicks marks a linear axis at a round step (1, 2 or 5 times a power
// of ten) that gives at least five labelled ticks, with a minor tick
// between each two.
func roundTicks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(m*step) <= 10 {
			step *= m
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		v = math.Round(v/step) * step // no 0.30000000000000004
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 6, 64)})
		if mid := v + step/2; mid <= hi {
			ticks = append(ticks, plot.Tick{Value: mid})
		}
	}
	return ticks
}

// valueTicks marks a log axis at the x values of the data (swarm sizes 4,
// 8, 16 …), each labelled, at most twelve labels.
type valueTicks []float64

func (v valueTicks) Ticks(lo, hi float64) []plot.Tick {
	vals := slices.Clone([]float64(v))
	slices.Sort(vals)
	vals = slices.Compact(vals)
	every := (len(vals) + 11) / 12
	var ticks []plot.Tick
	for i, x := range vals {
		if x < lo || x > hi {
			continue
		}
		t := plot.Tick{Value: x}
		if i%every == 0 {
			t.Label = strconv.FormatFloat(x, 'g', 6, 64)
		}
		ticks = append(ticks, t)
	}
	return ticks
}
