package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"swarm/metainfo"
	"swarm/piece"
)

// Check hashes the pieces already in s and returns those that match info,
// so that a download resumes where it stopped. Pieces whose files are
// missing (see Prober) are counted missing without being read, as are
// pieces whose files are absent or short when read. workers pieces are
// hashed at once (0 means GOMAXPROCS), each with a buffer of one piece.
// progress, if not nil, is called after each piece with the number done
// out of the total; calls never overlap, from Check's worker goroutines.
// Check returns when every worker has stopped: on success, on the first
// read error other than missing data, or when ctx is cancelled.
func Check(ctx context.Context, s Storage, info *metainfo.Info, workers int, progress func(done, total int)) (*piece.Bitfield, error) {
	n := info.NumPieces()
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, max(n, 1))
	prober, _ := s.(Prober)
	ok := make([]bool, n)
	// A file whose first byte is missing is absent (or empty): each piece
	// it touches is missing, known with one probe rather than one a piece
	// (4,096 failed stats, 27 ms, for a fresh download of 1 GiB).
	absent := make([]bool, n)
	if prober != nil && info.PieceLength > 0 {
		for _, f := range info.Files {
			if !f.Padding && f.Length > 0 && prober.Missing(f.Offset, 1) {
				for p := f.Offset / info.PieceLength; p <= (f.Offset+f.Length-1)/info.PieceLength && p < int64(n); p++ {
					absent[p] = true
				}
			}
		}
	}
	var (
		next atomic.Int64
		mu   sync.Mutex // serializes progress calls and guards done
		done int
	)
	g, ctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			buf := make([]byte, info.PieceLength)
			for {
				p := int(next.Add(1) - 1)
				if p >= n {
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if !absent[p] {
					good, err := checkPiece(s, prober, info, p, buf)
					if err != nil {
						return err
					}
					ok[p] = good
				}
				if progress != nil {
					mu.Lock()
					done++
					progress(done, n)
					mu.Unlock()
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("storage: check: %w", err)
	}
	have := piece.NewBitfield(n)
	for p, good := range ok {
		if good {
			have.Set(p)
		}
	}
	return have, nil
}

func checkPiece(s Storage, prober Prober, info *metainfo.Info, p int, buf []byte) (bool, error) {
	off, length := int64(p)*info.PieceLength, info.PieceLen(p)
	if prober != nil && prober.Missing(off, length) {
		return false, nil
	}
	buf = buf[:length]
	_, err := s.ReadAt(buf, off)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, io.ErrUnexpectedEOF):
		return false, nil
	case err != nil:
		return false, err
	}
	return piece.Verify(buf, info.Pieces[p]), nil
}
