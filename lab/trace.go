package lab

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// tracer turns the peers' debug logs into a trace of who unchokes whom
// (Config.Trace). The sessions log each choke and unchoke (message
// "choking", with the other end's listen address); the tracer learns each
// peer's address from its "listening for peers" line, writes one JSON
// object per choking event with both ends named, and adds up the bytes
// each slot served. Other log lines are dropped.
type tracer struct {
	mu     sync.Mutex
	w      io.Writer
	n      int       // leechers in this run
	began  time.Time // when the leechers started; zero before
	names  map[string]string
	served map[[2]string]int64 // (from, to) → bytes served in ended slots
	err    error
}

// TraceEvent is one line of a lab trace: at T seconds after the leechers
// started, From unchoked (Event "unchoke", in a Slot that is "regular",
// "optimistic" or "free", one left over between rechokes) or choked To;
// Bytes is what the ended slot served. Seeding says whether From had the
// whole file. DownRate is what To was sending From then, bytes per second.
type TraceEvent struct {
	Peers    int     `json:"peers"`
	T        float64 `json:"t"`
	From     string  `json:"from"`
	To       string  `json:"to"`
	Event    string  `json:"event"`
	Slot     string  `json:"slot,omitempty"`
	Seeding  bool    `json:"seeding"`
	DownRate float64 `json:"down_rate,omitempty"`
	Evidence float64 `json:"evidence,omitempty"`
	Bytes    int64   `json:"bytes,omitempty"`
}

func newTracer(w io.Writer, leechers int) *tracer {
	return &tracer{w: w, n: leechers, names: map[string]string{}, served: map[[2]string]int64{}}
}

// logger is a debug-level logger whose lines go to the tracer only.
func (tr *tracer) logger() zerolog.Logger {
	return zerolog.New(tr).Level(zerolog.DebugLevel)
}

func (tr *tracer) start() {
	tr.mu.Lock()
	tr.began = time.Now()
	tr.mu.Unlock()
}

// Write takes one log line (zerolog writes each with one call).
func (tr *tracer) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte(`"choking"`)) && !bytes.Contains(p, []byte(`"listening for peers"`)) {
		return len(p), nil
	}
	var l struct {
		Msg      string  `json:"message"`
		Lab      string  `json:"lab"`
		Addr     string  `json:"addr"`
		Listen   string  `json:"listen"`
		Event    string  `json:"event"`
		Slot     string  `json:"slot"`
		Seeding  bool    `json:"seeding"`
		DownRate float64 `json:"down_rate"`
		Evidence float64 `json:"evidence"`
		Bytes    int64   `json:"bytes"`
	}
	if json.Unmarshal(p, &l) != nil {
		return len(p), nil
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if l.Msg == "listening for peers" {
		tr.names[l.Addr] = l.Lab
		return len(p), nil
	}
	to := tr.names[l.Listen]
	if to == "" {
		to = l.Listen
	}
	var t float64
	if !tr.began.IsZero() {
		t = time.Since(tr.began).Seconds()
	}
	if l.Event == "choke" {
		tr.served[[2]string{l.Lab, to}] += l.Bytes
	}
	line, _ := json.Marshal(TraceEvent{Peers: tr.n, T: t, From: l.Lab, To: to, Event: l.Event, Slot: l.Slot,
		Seeding: l.Seeding, DownRate: l.DownRate, Evidence: l.Evidence, Bytes: l.Bytes})
	if _, err := tr.w.Write(append(line, '\n')); err != nil && tr.err == nil {
		tr.err = err
	}
	return len(p), nil
}

// TraceServed is the last line of a run's trace, one per pair of peers:
// the bytes From served To in slots that ended during the run (a slot ends
// when To loses interest, so every slot to a leecher that completed).
type TraceServed struct {
	Peers int    `json:"peers"`
	From  string `json:"from"`
	To    string `json:"to"`
	Bytes int64  `json:"served_bytes"`
}

// finish writes the served totals and returns the first write error.
func (tr *tracer) finish() error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	keys := make([][2]string, 0, len(tr.served))
	for k := range tr.served {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		line, _ := json.Marshal(TraceServed{Peers: tr.n, From: k[0], To: k[1], Bytes: tr.served[k]})
		if _, err := tr.w.Write(append(line, '\n')); err != nil && tr.err == nil {
			tr.err = err
		}
	}
	if tr.err != nil {
		return errorf("trace: %v", tr.err)
	}
	return nil
}
