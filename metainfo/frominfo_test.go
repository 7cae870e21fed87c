package metainfo_test

import (
	"crypto/sha1"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"swarm/metainfo"
)

func TestFromInfoKeepsInfoHash(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			want, err := metainfo.Load(filepath.Join("..", "testdata", fx.file))
			if err != nil {
				t.Fatal(err)
			}
			trackers := [][]string{{"http://a/announce", ""}, {}, {"udp://b:80", "http://c/announce"}}
			m, err := metainfo.FromInfo(want.InfoBytes, trackers)
			if err != nil {
				t.Fatalf("FromInfo(info of %s) = %v", fx.file, err)
			}
			if m.InfoHash.String() != fx.infoHash || m.InfoHash != sha1.Sum(want.InfoBytes) {
				t.Errorf("FromInfo(info of %s).InfoHash = %v, want %s", fx.file, m.InfoHash, fx.infoHash)
			}
			if string(m.InfoBytes) != string(want.InfoBytes) {
				t.Errorf("FromInfo(info of %s).InfoBytes differ from the input", fx.file)
			}
			if m.Info.Name != want.Info.Name || m.Info.Length != want.Info.Length ||
				m.Info.NumPieces() != want.Info.NumPieces() || len(m.Info.Files) != len(want.Info.Files) {
				t.Errorf("FromInfo(info of %s).Info = %+v, want %+v", fx.file, m.Info, want.Info)
			}
			wantTiers := [][]string{{"http://a/announce"}, {"udp://b:80", "http://c/announce"}}
			if m.Announce != "http://a/announce" || !slices.EqualFunc(m.Tiers(), wantTiers, slices.Equal) {
				t.Errorf("FromInfo trackers: announce %q, tiers %q, want %q", m.Announce, m.Tiers(), wantTiers)
			}
		})
	}
}

func TestFromInfoTrackers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "mktorrent-single.torrent"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := metainfo.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		trackers [][]string
		announce string
		list     int
	}{
		{"none", nil, "", 0},
		{"only empty", [][]string{{""}, nil}, "", 0},
		{"one tracker is announce alone", [][]string{{"http://t/announce"}}, "http://t/announce", 0},
		{"two in one tier", [][]string{{"http://t/a", "http://u/a"}}, "http://t/a", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := metainfo.FromInfo(src.InfoBytes, tt.trackers)
			if err != nil {
				t.Fatal(err)
			}
			if m.Announce != tt.announce || len(m.AnnounceList) != tt.list {
				t.Errorf("FromInfo(_, %q): announce %q, announce-list %q, want %q and %d tiers", tt.trackers, m.Announce, m.AnnounceList, tt.announce, tt.list)
			}
			if m.Magnet().InfoHash != src.InfoHash {
				t.Errorf("Magnet().InfoHash = %v, want %v", m.Magnet().InfoHash, src.InfoHash)
			}
		})
	}
}

func TestFromInfoRefusesBadInfo(t *testing.T) {
	good := "d6:lengthi100e4:name1:a12:piece lengthi16384e" + pieces(1) + "e"
	tests := []struct {
		name, info, want string
	}{
		{"empty", "", "empty"},
		{"not a dict", "i1e", "not a dictionary"},
		{"truncated", good[:20], "info dictionary"},
		{"trailing bytes", good + "x", "info dictionary"},
		{"two values", good + "de", "info dictionary"},
		{"close of the outer dict inside", "de4:infode", "info dictionary"},
		{"path escapes the folder", "d5:filesld6:lengthi1e4:pathl2:..1:beee4:name3:dir12:piece lengthi16384e" + pieces(1) + "e", ".."},
		{"missing pieces", "d6:lengthi100e4:name1:a12:piece lengthi16384ee", "missing pieces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := metainfo.FromInfo([]byte(tt.info), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("FromInfo(%q) = %v, %v, want an error containing %q", tt.info, m, err, tt.want)
			}
		})
	}
}
