//go:build !linux

package storage

import "os"

// writeBuffers writes iov at offset off of f, one WriteAt each.
func writeBuffers(f *os.File, iov [][]byte, off int64) (int64, error) {
	var n int64
	for _, b := range iov {
		k, err := f.WriteAt(b, off+n)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
