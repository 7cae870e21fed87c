package randfile_test

import (
	"bytes"
	"testing"

	"swarm/internal/randfile"
)

func TestWriteIsSizedAndReproducible(t *testing.T) {
	for _, size := range []int64{0, 1, 7, 1<<20 + 3} {
		var a, b, c bytes.Buffer
		if err := randfile.Write(&a, size, 1); err != nil {
			t.Fatal(err)
		}
		randfile.Write(&b, size, 1)
		randfile.Write(&c, size, 2)
		if int64(a.Len()) != size {
			t.Errorf("Write(%d) wrote %d bytes", size, a.Len())
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("Write(%d) with the same seed differs", size)
		}
		if size > 7 && bytes.Equal(a.Bytes(), c.Bytes()) {
			t.Errorf("Write(%d) with another seed gives the same bytes", size)
		}
	}
}
