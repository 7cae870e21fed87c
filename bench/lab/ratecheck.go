package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// checkRate runs a tracker, a seed limited to u (libtorrent with local
// limits mode ltMode, or swarm when ltMode is "") and one unlimited
// libtorrent leecher that reports what it has downloaded every second, and
// returns the download rate between its first report with data and its last
// before completion (or 10 s).
func (b *bench) checkRate(name, ltMode string) (rc rateCheck) {
	rc = rateCheck{RateCheck: name, LimitBps: b.up}
	dir, err := os.MkdirTemp(b.work, "ratecheck-")
	if err != nil {
		rc.Error = err.Error()
		return rc
	}
	defer os.RemoveAll(dir)
	client := clientSwarm
	if ltMode != "" {
		client = clientLT
	}
	c := &cluster{b: b, client: client, dir: dir}
	defer c.stop()
	if err := c.startTracker(); err != nil {
		rc.Error = err.Error()
		return rc
	}
	rate := strconv.FormatInt(b.up, 10)
	switch client {
	case clientSwarm:
		c.seed = b.procs.Command(b.swarm, "seed", b.torrent, "--data", b.seedDir, "--up-rate", rate, "-t", c.url, "--listen", "127.0.0.1:0", "-q")
		if err := c.start(c.seed); err != nil {
			rc.Error = err.Error()
			return rc
		}
	case clientLT:
		var l ltPeer
		l, err = c.startLTNow(b.seedDir, rate, "--seed", "--local-limits", ltMode)
		c.seed = l.p
		if err != nil {
			rc.Error = "libtorrent seed: " + err.Error()
			return rc
		}
	}
	deadline := time.Now().Add(b.timeout)
	for {
		complete, _, _, err := c.scrapeCounts()
		if err == nil && complete >= 1 {
			break
		}
		if c.seed.Exited() || time.Now().After(deadline) {
			rc.Error = fmt.Sprintf("seed not complete on the tracker: %v %s", err, lastLine(c.seed.Stderr()))
			return rc
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The meter: an unlimited libtorrent leecher with --stats.
	m, err := c.startLTNow(filepath.Join(dir, "meter"), "0", "--stats")
	if err != nil {
		rc.Error = "libtorrent meter: " + err.Error()
		return rc
	}
	type sample struct {
		T       float64 `json:"t"`
		Down    int64   `json:"down"`
		Seeding bool    `json:"seeding"`
	}
	var firstS, lastS *sample
	stop := time.After(min(b.timeout, 60*time.Second))
loop:
	for {
		select {
		case line, ok := <-m.lines:
			if !ok {
				rc.Error = "libtorrent meter exited: " + lastLine(m.p.Stderr())
				return rc
			}
			var s sample
			if json.Unmarshal([]byte(line), &s) != nil {
				continue
			}
			if s.Down > 0 && firstS == nil {
				firstS = &s
				continue
			}
			if firstS != nil {
				if s.Seeding {
					break loop // the last sample may hold an idle part
				}
				lastS = &s
				if s.T-firstS.T >= 8 {
					break loop
				}
			}
		case <-stop:
			break loop
		}
	}
	if firstS == nil {
		rc.Error = "the meter received nothing"
		return rc
	}
	if lastS == nil {
		// Done within a second of the first data: unlimited, or nearly.
		rc.Note = fmt.Sprintf("the whole file (%d bytes) arrived within a second: the limit is not applied; measured_bps is a lower bound", b.size)
		rc.MeasuredBps = float64(b.size)
		rc.Ratio = round(rc.MeasuredBps / float64(b.up))
		return rc
	}
	rc.WindowS = round(lastS.T - firstS.T)
	rc.Bytes = lastS.Down - firstS.Down
	rc.MeasuredBps = math.Round(float64(rc.Bytes) / (lastS.T - firstS.T))
	rc.Ratio = round(rc.MeasuredBps / float64(b.up))
	return rc
}
