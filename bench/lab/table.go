package main

import (
	"fmt"
	"io"
	"math"
	"sort"
)

// table prints the medians of the runs as a Markdown table.
func (b *bench) table(w io.Writer, all []result) {
	med := func(client string, n int, f func(result) float64) string {
		var v []float64
		for _, r := range all {
			if r.Client == client && r.Peers == n && r.Error == "" && r.Skipped == "" && f(r) > 0 {
				v = append(v, f(r))
			}
		}
		if len(v) == 0 {
			switch {
			case !b.clients[client]:
				return "—"
			case client == clientLab && !b.hasLab:
				return "skipped"
			}
			return "failed"
		}
		return fmt.Sprintf("%.2f", median(v))
	}
	ratio := func(r result) float64 { return r.Ratio }
	events := func(r result) float64 { return r.RatioEvents }
	fmt.Fprintf(w, "\nDistribution time, F = %s, u = %s/s, u_s = %s/s, 256 KiB pieces; ratio = D / D_p2p (median of %d run(s)).\n",
		human(b.size), human(b.up), human(b.seed), b.runs)
	fmt.Fprintln(w, "D ends when the scrape counts N+1 complete; the (events) columns end it when it counts N completed events instead.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "|  N | D_p2p (s) | D_cs (s) | swarm-procs | libtorrent | swarm-lab | swarm-procs (events) | libtorrent (events) |")
	fmt.Fprintln(w, "|---:|----------:|---------:|------------:|-----------:|----------:|---------------------:|--------------------:|")
	for _, n := range b.peers {
		p2p, cs := b.bounds(n)
		fmt.Fprintf(w, "| %2d | %9.2f | %8.2f | %11s | %10s | %9s | %20s | %19s |\n", n, p2p, cs,
			med(clientSwarm, n, ratio), med(clientLT, n, ratio), med(clientLab, n, ratio),
			med(clientSwarm, n, events), med(clientLT, n, events))
	}
}

func human(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func round(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1000) / 1000
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}
