package private

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"swarm/internal/humanize"
)

// The text views of the site's rules, as 'swarm tracker
// client|ban|freeleech|hnr|cheats' prints them. Their JSON is the types'
// own (ClientRule, Ban, FreeleechWindow, HitAndRun, CheatEvent).

// WriteClientRules writes the allow list, or says that every client may
// announce.
func WriteClientRules(w io.Writer, rules []ClientRule) error {
	if len(rules) == 0 {
		_, err := fmt.Fprintln(w, "no client rules: every client may announce")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tADDED")
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%s\n", r.Prefix, r.Added.UTC().Format(time.DateOnly))
	}
	return tw.Flush()
}

// WriteBans writes the bans as a table.
func WriteBans(w io.Writer, bans []Ban) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RANGE\tADDED\tREASON")
	for _, b := range bans {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", b.Prefix, b.Added.UTC().Format(time.DateOnly), b.Reason)
	}
	return tw.Flush()
}

// WriteFreeleech writes the site-wide windows, marking the one open at now.
func WriteFreeleech(w io.Writer, ws []FreeleechWindow, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FROM\tUNTIL\tKIND\tSTATE")
	for _, win := range ws {
		state := "to come"
		switch {
		case !now.Before(win.End):
			state = "over"
		case !now.Before(win.Start):
			state = "open"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", win.Start.UTC().Format(time.RFC3339), win.End.UTC().Format(time.RFC3339), win.Kind, state)
	}
	return tw.Flush()
}

// WriteHitAndRuns writes the hit-and-run list as a table.
func WriteHitAndRuns(w io.Writer, hs []HitAndRun) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tINFO HASH\tNAME\tSNATCHED\tSEEDED\tWINDOW")
	for _, h := range hs {
		state := "open until " + h.WindowEnd.UTC().Format(time.RFC3339)
		if h.Closed {
			state = "closed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", orRemoved(h.User), h.InfoHash, orRemoved(h.Name),
			h.Snatched.UTC().Format(time.RFC3339), seedTime(h.SeedSeconds), state)
	}
	return tw.Flush()
}

// WriteCheatEvents writes uncredited announces as a table.
func WriteCheatEvents(w io.Writer, evs []CheatEvent) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tUSER\tINFO HASH\tKIND\tCLAIMED\tIP")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), orRemoved(e.User), e.InfoHash, e.Kind,
			humanize.Size(e.Claimed), e.IP)
	}
	return tw.Flush()
}

func orRemoved(s string) string {
	if s == "" {
		return "(removed)"
	}
	return s
}

// MarshalJSON writes the info hash in hex, as the other views do.
func (e CheatEvent) MarshalJSON() ([]byte, error) {
	type plain CheatEvent
	return json.Marshal(struct {
		plain
		InfoHash string `json:"info_hash"`
	}{plain(e), e.InfoHash.String()})
}

// MarshalJSON writes the info hash in hex, as the other views do.
func (h HitAndRun) MarshalJSON() ([]byte, error) {
	type plain HitAndRun
	return json.Marshal(struct {
		plain
		InfoHash string `json:"info_hash"`
	}{plain(h), h.InfoHash.String()})
}
