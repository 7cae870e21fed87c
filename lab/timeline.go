package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"swarm/session"
	"swarm/storage"
)

// Timeline is what the upload links of a run did over time: the bytes each
// peer had sent and each leecher had received, sampled every
// Config.SampleInterval. The bound assumes every uploader sends at its full
// rate from the start until the last leecher is done; the capacity a link
// leaves unused, and what it spends on copies nobody needed, is exactly
// the run's loss against the bound (see Usage).
type Timeline struct {
	// At is the time of each sample, in seconds since the leechers started.
	At []float64 `json:"at_s"`
	// Sent[k][i] is what peer i had uploaded at At[k], in bytes; peer 0 is
	// the seed, peer i ≥ 1 leecher i-1.
	Sent [][]int64 `json:"sent"`
	// Got[k][i] is what leecher i had written to its storage at At[k]
	// (the session writes each piece once it passes its hash check).
	Got [][]int64 `json:"got"`
}

// sampler takes the samples of a Timeline.
type sampler struct {
	began time.Time
	peers []*session.Torrent // seed first
	got   []*countingStore
	tl    Timeline
}

func (s *sampler) sample(now time.Time) {
	sent := make([]int64, len(s.peers))
	for i, t := range s.peers {
		sent[i] = t.Uploaded()
	}
	got := make([]int64, len(s.got))
	for i, st := range s.got {
		got[i] = st.written.Load()
	}
	s.tl.At = append(s.tl.At, now.Sub(s.began).Seconds())
	s.tl.Sent = append(s.tl.Sent, sent)
	s.tl.Got = append(s.tl.Got, got)
}

// countingStore is a leecher's storage that counts the bytes written to it.
type countingStore struct {
	*storage.Memory
	written atomic.Int64
}

func (c *countingStore) WriteAt(p []byte, off int64) (int, error) {
	n, err := c.Memory.WriteAt(p, off)
	c.written.Add(int64(n))
	return n, err
}

// Usage sums up a Timeline against the bound. With D the measured time and
// C = u_s + N·u the swarm's upload capacity, C·D = N·F + Extra + idle
// capacity, so when the bound is N·F/C, ratio − 1 = (Idle + Extra) / (1 − Idle − Extra)
// in shares of C·D.
type Usage struct {
	// Idle is the share of the swarm's upload capacity left unused from
	// the start until the last leecher was done; SeedIdle and LeecherIdle
	// split it between the seed and the leechers (each a share of its own
	// capacity).
	Idle, SeedIdle, LeecherIdle float64
	// Extra is the share of the capacity spent on bytes beyond the N·F
	// the leechers needed: endgame copies, blocks that came too late.
	Extra float64
	// Phases is Idle in each tenth of the run.
	Phases []float64
	// FirstByte is when each leecher first wrote to its storage (its first
	// piece, as the session writes them), in seconds since the start; -1
	// if never.
	FirstByte []float64
}

// usage computes the Usage of a run that lasted d seconds with the given
// rates.
func (tl *Timeline) usage(r Rates, d float64) Usage {
	u := Usage{Phases: make([]float64, 10), FirstByte: make([]float64, r.Leechers)}
	for i := range u.FirstByte {
		u.FirstByte[i] = -1
		for k := range tl.At {
			if tl.Got[k][i] > 0 {
				u.FirstByte[i] = tl.At[k]
				break
			}
		}
	}
	if len(tl.At) == 0 || d <= 0 {
		return u
	}
	rate := func(i int) float64 {
		if i == 0 {
			return float64(r.SeedUpload)
		}
		return float64(r.Upload)
	}
	capacity := float64(r.SeedUpload) + float64(r.Leechers)*float64(r.Upload)
	// sentAt interpolates what peer i had sent at time x.
	sentAt := func(i int, x float64) float64 {
		if x <= 0 {
			return 0
		}
		prevT, prevV := 0.0, 0.0
		for k, at := range tl.At {
			v := float64(tl.Sent[k][i])
			if at >= x {
				if at == prevT {
					return v
				}
				return prevV + (v-prevV)*(x-prevT)/(at-prevT)
			}
			prevT, prevV = at, v
		}
		return prevV
	}
	var sentAll, seedSent float64
	for i := range r.Leechers + 1 {
		s := sentAt(i, d)
		sentAll += s
		if i == 0 {
			seedSent = s
		}
		for ph := range u.Phases {
			a, b := d*float64(ph)/10, d*float64(ph+1)/10
			u.Phases[ph] += sentAt(i, b) - sentAt(i, a)
		}
	}
	for ph := range u.Phases {
		u.Phases[ph] = max(0, 1-u.Phases[ph]/(capacity*d/10))
	}
	useful := float64(r.Leechers) * float64(r.Size)
	u.Idle = max(0, 1-sentAll/(capacity*d))
	u.Extra = max(0, sentAll-useful) / (capacity * d)
	u.SeedIdle = max(0, 1-seedSent/(rate(0)*d))
	u.LeecherIdle = max(0, 1-(sentAll-seedSent)/(float64(r.Leechers)*float64(r.Upload)*d))
	return u
}

// WriteTimelines writes one JSON object a line per result: the swarm size,
// the rates, each leecher's finish time and the run's Timeline, for
// `swarm lab --timeline`.
func WriteTimelines(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		err := enc.Encode(struct {
			Peers      int       `json:"peers"`
			Size       int64     `json:"size"`
			Upload     int64     `json:"upload"`
			SeedUpload int64     `json:"seed_upload"`
			Measured   float64   `json:"measured_s"`
			Bound      float64   `json:"bound_s"`
			Finish     []float64 `json:"finish_s"`
			Timeline   Timeline  `json:"timeline"`
		}{r.Leechers, r.Size, r.Upload, r.SeedUpload, r.Measured, r.Bound, r.Finish, r.Timeline})
		if err != nil {
			return fmt.Errorf("write timeline of %d peers: %w", r.Leechers, err)
		}
	}
	return nil
}
