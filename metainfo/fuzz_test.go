package metainfo_test

import (
	"os"
	"path/filepath"
	"testing"

	"swarm/metainfo"
)

// FuzzParse feeds arbitrary bytes to the torrent parser: it must never
// panic, and whatever it accepts must survive Encode and Parse unchanged.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "testdata", "*.torrent"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("d4:infod6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"))
	f.Add([]byte("d4:infod5:filesld6:lengthi1e4:pathl1:a1:beee4:name1:d12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := metainfo.Parse(data)
		if err != nil {
			return
		}
		out, err := m.Encode()
		if err != nil {
			t.Fatalf("Encode after a good Parse: %v", err)
		}
		m2, err := metainfo.Parse(out)
		if err != nil {
			t.Fatalf("Parse(Encode(x)) = %v", err)
		}
		if m2.InfoHash != m.InfoHash || len(m2.Info.Files) != len(m.Info.Files) || m2.Info.Length != m.Info.Length {
			t.Fatalf("round trip changed the torrent")
		}
		var sum int64
		for _, f := range m.Info.Files {
			if f.Length < 0 || f.Offset != sum {
				t.Fatalf("file %v has a bad length or offset", f.Path)
			}
			sum += f.Length
		}
		if sum != m.Info.Length || int64(m.Info.NumPieces()) != (sum+m.Info.PieceLength-1)/m.Info.PieceLength {
			t.Fatalf("lengths and piece count disagree")
		}
	})
}

// FuzzParseMagnet: no panic, and an accepted link formats and parses again
// to the same link.
func FuzzParseMagnet(f *testing.F) {
	f.Add("magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=album&tr=http%3A%2F%2Ft%2Fannounce")
	f.Add("magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK&x.pe=127.0.0.1:1")
	f.Add("magnet:?xt=urn:btmh:1220abcd")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := metainfo.ParseMagnet(s)
		if err != nil {
			return
		}
		again, err := metainfo.ParseMagnet(m.String())
		if err != nil {
			t.Fatalf("ParseMagnet(%q) = %v after a good parse of %q", m.String(), err, s)
		}
		if again.String() != m.String() {
			t.Fatalf("round trip: %q != %q", again.String(), m.String())
		}
	})
}
