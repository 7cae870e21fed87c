package dhtlab

import (
	"fmt"
	"io"
)

// The table of `swarm lab dht`: fixed widths rather than a tabwriter, so
// that each row prints as soon as its size is measured, which can take a
// minute.
const row = "%6v %7v %8v %10v %9v %10v %9v %14v %6v %14v %13v\n"

// WriteHeader writes the table's column names.
func WriteHeader(w io.Writer) {
	fmt.Fprintf(w, row, "N", "log2 N", "lookups", "hops mean", "hops p99", "msgs mean", "msgs p99", "found closest", "churn", "found (churn)", "hops (churn)")
}

// WriteRow writes r as one row of the table; "-" in the churn columns when
// no lookups ran under churn.
func WriteRow(w io.Writer, r Result) {
	churn, cFound, cHops := "-", "-", "-"
	if r.ChurnLookups > 0 {
		churn = fmt.Sprintf("%.0f%%", 100*r.Churn)
		cFound = fmt.Sprintf("%.1f%%", 100*r.ChurnFoundClosest)
		cHops = fmt.Sprintf("%.2f", r.ChurnMeanHops)
	}
	fmt.Fprintf(w, row, r.N, fmt.Sprintf("%.1f", r.Log2N), r.Lookups, fmt.Sprintf("%.2f", r.MeanHops),
		r.P99Hops, fmt.Sprintf("%.1f", r.MeanMessages), r.P99Messages, fmt.Sprintf("%.1f%%", 100*r.FoundClosest), churn, cFound, cHops)
}
