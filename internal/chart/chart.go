package chart

import (
	"errors"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
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

// SavePNG writes the chart to path as a 16×10 cm PNG.
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
	p.Add(plotter.NewGrid())
	if l.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
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
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("chart: series %q: %w", s.Name, err)
		}
		c := palette[i%len(palette)]
		line.Color, points.Color = c, c
		line.Width = vg.Points(1.5)
		if s.Dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line, points)
		p.Legend.Add(s.Name, line, points)
	}
	return p.Save(16*vg.Centimeter, 10*vg.Centimeter, path)
}
