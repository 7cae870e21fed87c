package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"swarm/session"
)

// The progress display of seed and get is written by hand rather than with
// mpb or progressbar: those draw bars of one counter, while swarm's status is
// one line of several figures that must also come out as plain lines for a
// log file and as JSON events, and must share the terminal with log lines.
// Clearing and redrawing one line takes a few escape codes.

// outputMode is how seed and get report progress on stdout.
type outputMode int

const (
	modeQuiet    outputMode = iota // nothing but errors (on stderr)
	modeTerminal                   // one status line, redrawn every second
	modePlain                      // a status line every plainInterval
	modeJSON                       // one JSON event per line
)

// plainInterval is how often a status line is printed when stdout is not a
// terminal, as aria2c does in a log.
const plainInterval = 5 * time.Second

// display writes a torrent's progress to stdout in one of the modes. Its
// methods may be called from several goroutines (log lines arrive from the
// session's).
type display struct {
	mode  outputMode
	w     io.Writer
	start time.Time

	mu        sync.Mutex // guards the fields below and every write to w
	line      string     // the status line now on the terminal, "" if none
	lastPlain time.Time  // when the last plain status line was printed
	fails     int        // hash failures already reported
}

func newDisplay(stdout io.Writer, quiet, asJSON bool) *display {
	d := &display{mode: modePlain, w: stdout, start: time.Now()}
	switch {
	case quiet:
		d.mode = modeQuiet
	case asJSON:
		d.mode = modeJSON
	case isTerminal(stdout):
		d.mode = modeTerminal
	}
	return d
}

// text reports whether messages for people are printed.
func (d *display) text() bool { return d.mode == modeTerminal || d.mode == modePlain }

// printf prints a message line for people (not in quiet or JSON mode),
// above the status line on a terminal.
func (d *display) printf(format string, args ...any) {
	if !d.text() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clearLocked()
	fmt.Fprintf(d.w, format, args...)
	d.redrawLocked()
}

// clearLocked erases the status line so that other output can take its
// place; redrawLocked puts it back.
func (d *display) clearLocked() {
	if d.line != "" {
		io.WriteString(d.w, "\r\033[K")
	}
}

func (d *display) redrawLocked() {
	if d.line != "" {
		io.WriteString(d.w, d.line)
	}
}

// logWriter returns where logs go: stderr itself, or, when stdout and
// stderr are both the terminal the status line is drawn on, a writer that
// lifts the status line out of the way of each log line.
func (d *display) logWriter(stderr io.Writer) io.Writer {
	if d.mode != modeTerminal || !isTerminal(stderr) {
		return stderr
	}
	return &aboveStatus{d: d, w: stderr}
}

type aboveStatus struct {
	d *display
	w io.Writer
}

func (a *aboveStatus) Write(p []byte) (int, error) {
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	a.d.clearLocked()
	n, err := a.w.Write(p)
	a.d.redrawLocked()
	return n, err
}

// status shows a new snapshot: redraws the terminal line, prints a plain
// line if plainInterval has passed, or emits progress (and piece_failed)
// events.
func (d *display) status(st session.Stats) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.mode {
	case modeTerminal:
		d.line = "\r\033[K" + terminalLine(st, termWidth(d.w))
		io.WriteString(d.w, d.line)
	case modePlain:
		if time.Since(d.lastPlain) >= plainInterval {
			d.lastPlain = time.Now()
			fmt.Fprintln(d.w, statusLine(st))
		}
	case modeJSON:
		if st.HashFails > d.fails {
			d.eventLocked(jsonEvent{Event: "piece_failed", Failed: st.HashFails - d.fails}, st)
			d.fails = st.HashFails
		}
		d.eventLocked(jsonEvent{Event: "progress"}, st)
	}
}

// endLine ends the terminal's status line, leaving it as it is, so that
// what follows starts on a line of its own.
func (d *display) endLine() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.line != "" {
		io.WriteString(d.w, "\n")
		d.line = ""
	}
}

// event emits a JSON event (JSON mode only) with the snapshot's figures.
func (d *display) event(ev jsonEvent, st session.Stats) {
	if d.mode != modeJSON {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.eventLocked(ev, st)
}

func (d *display) eventLocked(ev jsonEvent, st session.Stats) {
	ev.Time = time.Now().UTC().Format(time.RFC3339Nano)
	ev.Elapsed = time.Since(d.start).Seconds()
	ev.Pieces, ev.Have = st.Pieces, st.Have
	ev.Length, ev.Wanted, ev.Left = st.Length, st.Wanted, st.Left
	ev.Percent = st.Percent()
	ev.Downloaded, ev.Uploaded = st.Downloaded, st.Uploaded
	ev.DownRate, ev.UpRate = int64(st.DownRate), int64(st.UpRate)
	ev.Peers, ev.Seeds = st.Peers, st.Seeds
	ev.Ratio = st.Ratio()
	ev.HashFails = st.HashFails
	for _, ws := range st.WebSeeds {
		ev.WebSeedBytes += ws.Downloaded
	}
	if eta, ok := st.ETA(); ok {
		ev.ETA = eta.Seconds()
	}
	if ev.Error == "" {
		ev.Error = st.Err
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return // cannot happen: every field is a plain value
	}
	d.w.Write(append(b, '\n'))
}

// jsonEvent is one line of --json output. Every event carries the
// torrent's figures at that moment.
type jsonEvent struct {
	Event    string  `json:"event"` // started, progress, piece_failed, completed, stopped
	Time     string  `json:"time"`  // RFC 3339, UTC
	Name     string  `json:"name,omitempty"`
	InfoHash string  `json:"info_hash,omitempty"`
	Listen   string  `json:"listen,omitempty"` // started: our address
	Folder   string  `json:"folder,omitempty"` // started: where the content is
	Magnet   string  `json:"magnet,omitempty"` // started (seed)
	Failed   int     `json:"failed,omitempty"` // piece_failed: pieces failed since the last event
	Reason   string  `json:"reason,omitempty"` // stopped: complete, interrupted, seed-ratio, seed-time, error
	Error    string  `json:"error,omitempty"`  // storage failure, or why the run ended
	Elapsed  float64 `json:"elapsed_seconds"`  // since the command started

	Pieces     int     `json:"pieces"`
	Have       int     `json:"have"` // verified pieces
	Length     int64   `json:"length"`
	Wanted     int64   `json:"wanted"` // bytes of the pieces to download
	Left       int64   `json:"left"`   // of those, bytes not yet verified
	Percent    float64 `json:"percent"`
	Downloaded int64   `json:"downloaded"` // this run, bytes
	Uploaded   int64   `json:"uploaded"`
	DownRate   int64   `json:"down_rate"` // bytes per second
	UpRate     int64   `json:"up_rate"`
	Peers      int     `json:"peers"`
	Seeds      int     `json:"seeds"`
	ETA        float64 `json:"eta_seconds,omitempty"`
	Ratio      float64 `json:"ratio"` // uploaded ÷ wanted
	HashFails  int     `json:"pieces_failed"`
	// WebSeedBytes is the part of Downloaded that came from web seeds.
	WebSeedBytes int64 `json:"web_seed_downloaded,omitempty"`
}

// statusLine is the one-line status of a torrent, e.g.
//
//	42.3%  8.0 MiB/19.1 MiB  down 4.0 MiB/s  up 0 B/s  peers 1 (1 seed)  eta 3s  ratio 0.00
func statusLine(st session.Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5.1f%%  %s/%s", st.Percent(), formatSize(st.Wanted-st.Left), formatSize(st.Wanted))
	fmt.Fprintf(&b, "  down %s/s  up %s/s  peers %d (%d %s)", formatSize(int64(st.DownRate)), formatSize(int64(st.UpRate)),
		st.Peers, st.Seeds, plural(st.Seeds, "seed", "seeds"))
	if len(st.WebSeeds) > 0 {
		up := 0
		for _, ws := range st.WebSeeds {
			if !ws.Banned && ws.Err == "" {
				up++
			}
		}
		fmt.Fprintf(&b, "  web seeds %d/%d", up, len(st.WebSeeds))
	}
	if !st.Complete {
		eta := "-"
		if d, ok := st.ETA(); ok {
			eta = formatDuration(d)
		}
		b.WriteString("  eta " + eta)
	}
	fmt.Fprintf(&b, "  ratio %.2f", st.Ratio())
	if st.HashFails > 0 {
		fmt.Fprintf(&b, "  %d failed", st.HashFails)
	}
	if st.Err != "" {
		b.WriteString("  ERROR: " + st.Err)
	}
	if st.TrackerErr != "" {
		b.WriteString("  tracker: " + st.TrackerErr)
	}
	return b.String()
}

// terminalLine is the status line with a bar of the verified share in
// front, [#####.....], as wide as the terminal leaves room for (at most 20
// columns, none if fewer than 5). It is cut to less than width columns, so
// that it never wraps: a wrapped line could not be redrawn in place.
func terminalLine(st session.Stats, width int) string {
	line := statusLine(st) // ASCII only: bytes are columns
	n := min(20, width-1-len(line)-3)
	if n < 5 {
		return line[:min(len(line), max(width-1, 0))]
	}
	full := int(st.Percent() / 100 * float64(n))
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", n-full) + "] " + line
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// formatDuration renders a duration to the second: "4s", "4m51s", "2h05m".
func formatDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 100*3600:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd", s/86400)
}

// formatElapsed renders how long something took, to a tenth of a second
// under a minute ("0.4s", "12.3s") and as formatDuration above.
func formatElapsed(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return formatDuration(d)
}

// termWidth is the width of the terminal w is, 80 if unknown.
func termWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	return 80
}
