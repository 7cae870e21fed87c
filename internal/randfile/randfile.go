package randfile

import (
	"io"
	"math/rand/v2"
	"os"
)

// Write writes size bytes drawn from a PCG generator seeded with seed.
func Write(w io.Writer, size int64, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 2))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		for i := 0; i < len(buf); i += 8 {
			v := r.Uint64()
			for k := range 8 {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		n := min(left, int64(len(buf)))
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// WriteFile creates path (and nothing else) holding size random bytes.
func WriteFile(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, size, seed); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
