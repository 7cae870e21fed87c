package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// runLab runs `swarm lab --json`, the seed and the leechers in one process,
// and reads D from its output.
func (b *bench) runLab(n, run int) (r result) {
	r = result{Client: clientLab, Peers: n, Run: run, Size: b.size, Upload: b.up, SeedUp: b.seed}
	r.BoundS, r.ClientServerS = b.bounds(n)
	r.BoundS, r.ClientServerS = round(r.BoundS), round(r.ClientServerS)
	if !b.hasLab {
		r.Skipped = "this swarm has no 'swarm lab' command"
		return r
	}
	args := []string{"lab", "--peers", strconv.Itoa(n), "--size", strconv.FormatInt(b.size, 10),
		"--upload", strconv.FormatInt(b.up, 10), "--seed-upload", strconv.FormatInt(b.seed, 10), "--json"}
	if b.superSeed {
		args = append(args, "--super-seed")
	}
	p := b.procs.Command(b.swarm, args...)
	var out bytes.Buffer
	p.Cmd.Stdout = &out
	p.Cmd.Dir = b.work
	if err := p.Start(); err != nil {
		r.Error = err.Error()
		return r
	}
	defer p.Kill()
	if err := p.Wait(b.timeout); err != nil {
		r.Error = fmt.Sprintf("swarm lab: %v: %s", err, lastLine(p.Stderr()))
		return r
	}
	// labLine is one of the JSON lines swarm lab --json prints.
	type labLine struct {
		Peers         int     `json:"peers"`
		Size          int64   `json:"size"`
		MeasuredS     float64 `json:"measured_s"`
		BoundS        float64 `json:"bound_s"`
		Ratio         float64 `json:"ratio"`
		ClientServerS float64 `json:"client_server_s"`
	}
	var got *labLine
	for _, line := range strings.Split(out.String(), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var l labLine
		if json.Unmarshal([]byte(line), &l) == nil && l.Peers == n && l.MeasuredS > 0 {
			got = &l
		}
	}
	if got == nil {
		r.Error = fmt.Sprintf("swarm lab printed no JSON line for %d peers: %q", n, lastLine(out.String()))
		return r
	}
	if got.Size != 0 && got.Size != b.size {
		r.Error = fmt.Sprintf("swarm lab measured %d bytes, not %d", got.Size, b.size)
	}
	r.MeasuredS = round(got.MeasuredS)
	r.Ratio = round(got.MeasuredS / r.BoundS) // against the bench's bound, like the others
	r.LabBoundS, r.LabRatio = round(got.BoundS), round(got.Ratio)
	return r
}
