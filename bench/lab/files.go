package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
)

func fileSum(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// sameAsContent checks size and SHA-256 of path against the source.
func (b *bench) sameAsContent(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() != b.size {
		return fmt.Errorf("%d bytes, want %d", st.Size(), b.size)
	}
	sum, err := fileSum(path)
	if err != nil {
		return err
	}
	if sum != b.sum {
		return errors.New("SHA-256 differs from the source")
	}
	return nil
}
