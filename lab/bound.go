package lab

import "math"

// Rates of one experiment, in bytes and bytes per second; Download 0 means
// unlimited.
type Rates struct {
	Size       int64 // F, the file
	Leechers   int   // N
	SeedUpload int64 // u_s
	Upload     int64 // u, each leecher
	Download   int64 // d, each leecher
}

// P2PBound is the least time in seconds any peer-to-peer scheme needs to get
// the file to all N leechers: the seed must send every bit at least once
// (F/u_s), the slowest leecher must receive it (F/d_min), and N·F bits must
// be sent by the total upload capacity (N·F/(u_s + Σu_i)).
func (r Rates) P2PBound() float64 {
	f, n := float64(r.Size), float64(r.Leechers)
	return max(f/float64(r.SeedUpload), r.downloadTime(), n*f/(float64(r.SeedUpload)+n*float64(r.Upload)))
}

// ClientServer is the least time in seconds when the seed alone serves all
// N leechers: max(N·F/u_s, F/d_min). It grows linearly with N.
func (r Rates) ClientServer() float64 {
	f, n := float64(r.Size), float64(r.Leechers)
	return max(n*f/float64(r.SeedUpload), r.downloadTime())
}

func (r Rates) downloadTime() float64 {
	if r.Download == 0 {
		return 0
	}
	return float64(r.Size) / float64(r.Download)
}

// valid says what is wrong with r, if anything.
func (r Rates) check() error {
	switch {
	case r.Size <= 0:
		return errorf("size must be positive")
	case r.Leechers <= 0:
		return errorf("need at least one leecher")
	case r.SeedUpload <= 0 || r.Upload <= 0:
		return errorf("upload rates must be positive: the bound is infinite without them")
	case r.Download < 0:
		return errorf("download rate must not be negative")
	}
	if math.IsInf(r.P2PBound(), 0) {
		return errorf("rates give an infinite bound")
	}
	return nil
}
