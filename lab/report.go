package lab

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"swarm/internal/chart"
	"swarm/internal/humanize"
	"swarm/metainfo"
)

// Series runs one experiment per swarm size in sizes (cfg.Leechers is set
// for each; cfg.FreeRiders is capped at it) and reports each as soon as it
// is measured: a table with a header of the rates, or one JSON object per
// line (ResultJSON). It returns the results in order, for Plot.
func Series(ctx context.Context, cfg Config, sizes []int, w io.Writer, asJSON bool) ([]Result, error) {
	r := cfg.Rates
	if !asJSON {
		download := "unlimited"
		if r.Download != 0 {
			download = humanize.Size(r.Download) + "/s"
		}
		fmt.Fprintf(w, "F = %s in %s pieces, u_s = %s/s, u = %s/s, d = %s\n\n", humanize.Size(r.Size),
			humanize.Size(cmp.Or(cfg.PieceLength, metainfo.DefaultPieceLength)), humanize.Size(r.SeedUpload), humanize.Size(r.Upload), download)
		fmt.Fprintf(w, "%6s  %10s  %10s  %6s  %14s\n", "N", "D measured", "P2P bound", "ratio", "client-server")
	}
	freeRiders := cfg.FreeRiders
	var results []Result
	for _, n := range sizes {
		cfg.Leechers, cfg.FreeRiders = n, min(freeRiders, n)
		res, err := Run(ctx, cfg)
		if err != nil {
			return results, fmt.Errorf("N = %d: %w", n, err)
		}
		results = append(results, res)
		riders, others := res.Means()
		if asJSON {
			line, _ := json.Marshal(ResultJSON{
				Peers: n, Size: r.Size, Upload: r.Upload, SeedUpload: r.SeedUpload, Download: r.Download,
				PieceLength: res.PieceLength, FreeRiders: cfg.FreeRiders,
				Measured: res.Measured, Bound: res.Bound, Ratio: res.Ratio, ClientServer: res.ClientServer, Finish: res.Finish,
				FreeRidersMean: riders, OthersMean: others,
				Idle: round3(res.Usage.Idle), SeedIdle: round3(res.Usage.SeedIdle), LeecherIdle: round3(res.Usage.LeecherIdle),
				Extra: round3(res.Usage.Extra), IdlePhases: roundAll(res.Usage.Phases), FirstByte: roundAll(res.Usage.FirstByte),
			})
			fmt.Fprintf(w, "%s\n", line)
		} else {
			fmt.Fprintf(w, "%6d  %9.2fs  %9.2fs  %6.2f  %13.2fs\n", n, res.Measured, res.Bound, res.Ratio, res.ClientServer)
			if cfg.FreeRiders > 0 {
				fmt.Fprintf(w, "        %d free riders done at %.2fs on average, the others at %.2fs\n", cfg.FreeRiders, riders, others)
			}
			writeUsage(w, res.Usage)
		}
	}
	return results, nil
}

// ResultJSON is one line of `swarm lab --json`; times are in seconds and
// the field names are stable.
type ResultJSON struct {
	Peers        int       `json:"peers"`
	Size         int64     `json:"size"`
	Upload       int64     `json:"upload"`
	SeedUpload   int64     `json:"seed_upload"`
	Download     int64     `json:"download"`
	PieceLength  int64     `json:"piece_length"`
	FreeRiders   int       `json:"free_riders"`
	Measured     float64   `json:"measured_s"`
	Bound        float64   `json:"bound_s"`
	Ratio        float64   `json:"ratio"`
	ClientServer float64   `json:"client_server_s"`
	Finish       []float64 `json:"finish_s"`
	// FreeRidersMean and OthersMean are the mean times to completion of
	// the free riders (0 if none) and of the leechers that upload.
	FreeRidersMean float64 `json:"free_riders_mean_s,omitempty"`
	OthersMean     float64 `json:"others_mean_s"`
	// Usage (see lab.Usage): shares of the upload capacity left idle
	// (the swarm's, the seed's, the leechers'), spent on extra copies, and
	// idle in each tenth of the run; when each leecher got its first block.
	Idle        float64   `json:"idle"`
	SeedIdle    float64   `json:"seed_idle"`
	LeecherIdle float64   `json:"leecher_idle"`
	Extra       float64   `json:"extra"`
	IdlePhases  []float64 `json:"idle_phases"`
	FirstByte   []float64 `json:"first_byte_s"`
}

// writeUsage prints where a run lost time against the bound, under its row.
func writeUsage(w io.Writer, u Usage) {
	fmt.Fprintf(w, "        upload capacity idle %.1f%% (seed %.1f%%, leechers %.1f%%), extra copies %.1f%%; idle by tenth of D:",
		100*u.Idle, 100*u.SeedIdle, 100*u.LeecherIdle, 100*u.Extra)
	for _, p := range u.Phases {
		fmt.Fprintf(w, " %.0f", 100*p)
	}
	fmt.Fprintln(w)
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func roundAll(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = round3(x)
	}
	return out
}

// Plot draws the textbook figure into a PNG at path: measured time, the
// P2P bound and the client-server time against N.
func Plot(results []Result, path string) error {
	if len(results) == 0 {
		return errorf("nothing to plot")
	}
	var measured, bound, cs chart.Series
	measured.Name, bound.Name, cs.Name = "swarm, measured", "P2P bound", "client-server"
	bound.Dashed, cs.Dashed = true, true
	for _, r := range results {
		n := float64(r.Leechers)
		measured.X, measured.Y = append(measured.X, n), append(measured.Y, r.Measured)
		bound.X, bound.Y = append(bound.X, n), append(bound.Y, r.Bound)
		cs.X, cs.Y = append(cs.X, n), append(cs.Y, r.ClientServer)
	}
	r := results[0]
	l := chart.Lines{
		Title: fmt.Sprintf("Distributing %s: seed %s/s, leechers %s/s up",
			humanize.Size(r.Size), humanize.Size(r.SeedUpload), humanize.Size(r.Upload)),
		XLabel: "leechers N", YLabel: "time until all hold the file (s)",
		Series: []chart.Series{measured, bound, cs},
	}
	return l.SavePNG(path)
}
