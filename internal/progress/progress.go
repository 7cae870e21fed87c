package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"golang.org/x/sys/unix"

	"swarm/internal/humanize"
	"swarm/session"
)

// The progress display of seed and get is written by hand rather than with
// mpb or progressbar: those draw bars of one counter, while swarm's status is
// one line of several figures that must also come out as plain lines for a
// log file and as JSON events, and must share the terminal with log lines.
// Clearing and redrawing one line takes a few escape codes.

// outputMode is how a Display reports progress.
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

// Display writes a torrent's progress to stdout in one of the modes. Its
// methods may be called from several goroutines (log lines arrive from the
// session's).
type Display struct {
	mode  outputMode
	w     io.Writer
	start time.Time

	mu        sync.Mutex // guards the fields below and every write to w
	line      string     // the status line now on the terminal, "" if none
	lastPlain time.Time  // when the last plain status line was printed
	fails     int        // hash failures already reported
}

// New returns the display of one torrent on stdout: nothing with quiet,
// JSON events with asJSON, else a status line redrawn in place on a
// terminal and a plain line every 5 s elsewhere.
func New(stdout io.Writer, quiet, asJSON bool) *Display {
	d := &Display{mode: modePlain, w: stdout, start: time.Now()}
	switch {
	case quiet:
		d.mode = modeQuiet
	case asJSON:
		d.mode = modeJSON
	case IsTerminal(stdout):
		d.mode = modeTerminal
	}
	return d
}

// Terminal reports whether the status line is redrawn in place.
func (d *Display) Terminal() bool { return d.mode == modeTerminal }

// Start is when the display was made: the start of the command.
func (d *Display) Start() time.Time { return d.start }

// Text reports whether messages for people are printed.
func (d *Display) Text() bool { return d.mode == modeTerminal || d.mode == modePlain }

// Printf prints a message line for people (not in quiet or JSON mode),
// above the status line on a terminal.
func (d *Display) Printf(format string, args ...any) {
	if !d.Text() {
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
func (d *Display) clearLocked() {
	if d.line != "" {
		io.WriteString(d.w, "\r\033[K")
	}
}

func (d *Display) redrawLocked() {
	if d.line != "" {
		io.WriteString(d.w, d.line)
	}
}

// LogWriter returns where logs go: stderr itself, or, when stdout and
// stderr are both the terminal the status line is drawn on, a writer that
// lifts the status line out of the way of each log line.
func (d *Display) LogWriter(stderr io.Writer) io.Writer {
	if d.mode != modeTerminal || !IsTerminal(stderr) {
		return stderr
	}
	return &aboveStatus{d: d, w: stderr}
}

type aboveStatus struct {
	d *Display
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

// Status shows a new snapshot: redraws the terminal line, prints a plain
// line if plainInterval has passed, or emits progress (and piece_failed)
// events.
func (d *Display) Status(st session.Stats) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.mode {
	case modeTerminal:
		d.line = "\r\033[K" + TerminalLine(st, termWidth(d.w))
		io.WriteString(d.w, d.line)
	case modePlain:
		if time.Since(d.lastPlain) >= plainInterval {
			d.lastPlain = time.Now()
			fmt.Fprintln(d.w, StatusLine(st))
		}
	case modeJSON:
		if st.HashFails > d.fails {
			d.eventLocked(Event{Event: "piece_failed", Failed: st.HashFails - d.fails}, st)
			d.fails = st.HashFails
		}
		d.eventLocked(Event{Event: "progress"}, st)
	}
}

// EndLine ends the terminal's status line, leaving it as it is, so that
// what follows starts on a line of its own.
func (d *Display) EndLine() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.line != "" {
		io.WriteString(d.w, "\n")
		d.line = ""
	}
}

// Event emits a JSON event (JSON mode only) with the snapshot's figures.
func (d *Display) Event(ev Event, st session.Stats) {
	if d.mode != modeJSON {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.eventLocked(ev, st)
}

func (d *Display) eventLocked(ev Event, st session.Stats) {
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

// Event is one line of --json output. Every event carries the
// torrent's figures at that moment.
type Event struct {
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

// StatusLine is the one-line status of a torrent, e.g.
//
//	42.3%  8.0 MiB/19.1 MiB  down 4.0 MiB/s  up 0 B/s  peers 1 (1 seed)  eta 3s  ratio 0.00
func StatusLine(st session.Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5.1f%%  %s/%s", st.Percent(), humanize.Size(st.Wanted-st.Left), humanize.Size(st.Wanted))
	fmt.Fprintf(&b, "  down %s/s  up %s/s  peers %d (%d %s)", humanize.Size(int64(st.DownRate)), humanize.Size(int64(st.UpRate)),
		st.Peers, st.Seeds, humanize.Plural(st.Seeds, "seed", "seeds"))
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
			eta = humanize.Duration(d)
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

// TerminalLine is the status line with a bar of the verified share in
// front, [#####.....], as wide as the terminal leaves room for (at most 20
// columns, none if fewer than 5). It is cut to less than width columns, so
// that it never wraps: a wrapped line could not be redrawn in place.
func TerminalLine(st session.Stats, width int) string {
	line := StatusLine(st) // ASCII only: bytes are columns
	n := min(20, width-1-len(line)-3)
	if n < 5 {
		return line[:min(len(line), max(width-1, 0))]
	}
	full := int(st.Percent() / 100 * float64(n))
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", n-full) + "] " + line
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

// MagnetLine is the status line of the metadata phase, e.g.
//
//	metadata: 1/2 trackers answered  3 peers, 1 connected  DHT 40 nodes, 2 lookups
//
// short enough for 80 columns; "n connecting" joins the peers while dials are
// under way. dhtNodes is the DHT node's routing table size, -1 without one.
func MagnetLine(st session.Stats, dhtNodes int) string {
	var parts []string
	if st.Trackers > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d trackers answered", st.TrackersAnswered, st.Trackers))
	}
	peers := fmt.Sprintf("%d %s, %d connected", st.Known, humanize.Plural(st.Known, "peer", "peers"), st.Peers)
	if st.Connecting > 0 {
		peers += fmt.Sprintf(", %d connecting", st.Connecting)
	}
	parts = append(parts, peers)
	if dhtNodes >= 0 {
		parts = append(parts, fmt.Sprintf("DHT %d %s, %d %s", dhtNodes, humanize.Plural(dhtNodes, "node", "nodes"),
			st.DHTLookups, humanize.Plural(st.DHTLookups, "lookup", "lookups")))
	}
	return "metadata: " + strings.Join(parts, "  ")
}

// MagnetStatus shows line as the status line (terminal), or every
// plainInterval as a plain line; "" ends a terminal line. JSON mode has no
// event for it.
func (d *Display) MagnetStatus(line string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.mode == modeTerminal && line == "":
		d.clearLocked()
		d.line = ""
	case d.mode == modeTerminal:
		d.line = "\r\033[K" + line[:min(len(line), max(termWidth(d.w)-1, 0))]
		io.WriteString(d.w, d.line)
	case d.mode == modePlain && line != "" && time.Since(d.lastPlain) >= plainInterval:
		d.lastPlain = time.Now()
		fmt.Fprintln(d.w, line)
	}
}

// Hashing draws a one-line progress display on a terminal while a
// torrent is hashed; elsewhere it stays silent.
type Hashing struct {
	w     io.Writer
	on    bool
	start time.Time
	mu    sync.Mutex
	last  time.Time
	drawn bool
}

// NewHashing returns the display of hashing on w, silent unless w is a
// terminal.
func NewHashing(w io.Writer) *Hashing {
	return &Hashing{w: w, on: IsTerminal(w), start: time.Now()}
}

// Update is called after each piece; it redraws at most five times a second.
func (p *Hashing) Update(done, total int64) {
	if !p.on || total < 64<<20 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond && done < total {
		return
	}
	p.last = now
	rate := float64(done) / now.Sub(p.start).Seconds()
	fmt.Fprintf(p.w, "\rhashing %3d%%  %s / %s  %s/s   ", done*100/total, humanize.Size(done), humanize.Size(total), humanize.Size(int64(rate)))
	p.drawn = true
}

// Finish ends the line, if one was drawn.
func (p *Hashing) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\n")
	}
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// Completed shows that the download completed: the status line at 100%
// left on a terminal, the average rate when this run downloaded, and a
// completed event; seeding says that seeding goes on.
func (d *Display) Completed(st session.Stats, seeding bool) {
	if d.Terminal() {
		d.Status(st)
	}
	d.EndLine()
	if st.Downloaded > 0 {
		took := time.Since(d.start)
		d.Printf("complete: %s in %s (%s/s average)\n", humanize.Size(st.Wanted), humanize.Elapsed(took),
			humanize.Size(int64(float64(st.Downloaded)/max(took.Seconds(), 0.001))))
	}
	d.Event(Event{Event: "completed"}, st)
	if seeding {
		d.Printf("seeding; press Ctrl-C to stop\n")
	}
}

// Stopped shows a run's totals and a stopped event with its reason (a
// session.End* value) and the error that ended it, if any.
func (d *Display) Stopped(reason string, err error, st session.Stats) {
	d.EndLine()
	d.Printf("stopped: downloaded %s (%d bytes), uploaded %s (%d bytes), ratio %.2f, %d of %d pieces verified, %d failed the hash check, after %s\n",
		humanize.Size(st.Downloaded), st.Downloaded, humanize.Size(st.Uploaded), st.Uploaded, st.Ratio(), st.Have, st.Pieces, st.HashFails,
		humanize.Elapsed(time.Since(d.start)))
	ev := Event{Event: "stopped", Reason: reason}
	if err != nil {
		ev.Error = err.Error()
	}
	d.Event(ev, st)
}
