package metainfo_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"swarm/metainfo"
)

// The fixtures come from real tools (testdata/make-fixtures.sh); the info
// hashes are what transmission-show and libtorrent report for them.
var fixtures = []struct {
	file     string
	infoHash string
	name     string
	files    []string // non-padding paths
	private  bool
	hybrid   bool
	tiers    int
}{
	{"mktorrent-single.torrent", "20537dbc4daf74937ca78cfc87ec0d1679541d20", "single.bin", []string{"single.bin"}, false, false, 1},
	{"mktorrent-multi.torrent", "afc89aea932c2e6077293c8501b533cb54b0bfcd", "album",
		[]string{"a.txt", "empty", "sub/b.bin", "sub/deep/c.bin", "z.txt"}, true, false, 2},
	{"transmission-multi.torrent", "be964501b17d4af324d783d847c73187f2ba023a", "album",
		[]string{"a.txt", "sub/b.bin", "sub/deep/c.bin", "z.txt"}, false, false, 1},
	// libtorrent keeps the order it read the folder in.
	{"libtorrent-v1.torrent", "91772ccff6ad33180457882f482aecc8dffdee83", "album",
		[]string{"empty", "z.txt", "sub/b.bin", "sub/deep/c.bin", "a.txt"}, false, false, 1},
	{"libtorrent-hybrid.torrent", "6255bcfbdfc3f84f7fcac64d05eb4f1bfc85c031", "album",
		[]string{"a.txt", "empty", "sub/b.bin", "sub/deep/c.bin", "z.txt"}, false, true, 1},
}

func TestParseRealTorrents(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			m, err := metainfo.Load(filepath.Join("..", "testdata", fx.file))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := m.InfoHash.String(); got != fx.infoHash {
				t.Errorf("InfoHash = %s, want %s", got, fx.infoHash)
			}
			if m.Info.Name != fx.name {
				t.Errorf("Name = %q, want %q", m.Info.Name, fx.name)
			}
			var paths []string
			var content int64
			for _, f := range m.Info.Files {
				if !f.Padding {
					paths = append(paths, f.DisplayPath())
					content += f.Length
				}
			}
			if strings.Join(paths, ",") != strings.Join(fx.files, ",") {
				t.Errorf("files = %v, want %v", paths, fx.files)
			}
			if m.Info.Private != fx.private || m.Info.Hybrid != fx.hybrid {
				t.Errorf("private, hybrid = %v, %v; want %v, %v", m.Info.Private, m.Info.Hybrid, fx.private, fx.hybrid)
			}
			if len(m.Tiers()) != fx.tiers {
				t.Errorf("tiers = %v, want %d", m.Tiers(), fx.tiers)
			}
			// Offsets must tile the content exactly.
			var off int64
			for _, f := range m.Info.Files {
				if f.Offset != off {
					t.Errorf("file %s offset %d, want %d", f.DisplayPath(), f.Offset, off)
				}
				off += f.Length
			}
			if off != m.Info.Length {
				t.Errorf("files add up to %d, Length = %d", off, m.Info.Length)
			}
			if last := m.Info.PieceLen(m.Info.NumPieces() - 1); last <= 0 || last > m.Info.PieceLength {
				t.Errorf("last piece length %d out of (0, %d]", last, m.Info.PieceLength)
			}
		})
	}
}

func TestEncodeKeepsInfoHashAndUnknownKeys(t *testing.T) {
	// An info dictionary with a key swarm does not know ("x-extra") must be
	// written back byte for byte.
	info := "d6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:" + strings.Repeat("p", 20) + "7:x-extra3:fooe"
	in := []byte("d8:announce9:http://t/4:info" + info + "e")
	m, err := metainfo.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(info)) {
		t.Errorf("Encode() = %q, lost the raw info %q", out, info)
	}
	m2, err := metainfo.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if m2.InfoHash != m.InfoHash {
		t.Errorf("info hash changed: %s -> %s", m.InfoHash, m2.InfoHash)
	}
	for _, fx := range fixtures {
		data, err := os.ReadFile(filepath.Join("..", "testdata", fx.file))
		if err != nil {
			t.Fatal(err)
		}
		m, err := metainfo.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := metainfo.Parse(out)
		if err != nil || m2.InfoHash != m.InfoHash || len(m2.Tiers()) != len(m.Tiers()) || m2.Comment != m.Comment {
			t.Errorf("%s: round trip changed the torrent (err %v)", fx.file, err)
		}
	}
}

// torrent builds a .torrent around an info dictionary body.
func torrent(info string) []byte { return []byte("d4:info" + info + "e") }

func pieces(n int) string { return fmt.Sprintf("6:pieces%d:%s", 20*n, strings.Repeat("h", 20*n)) }

func TestParseRefusesHostileTorrents(t *testing.T) {
	single := func(extra string) []byte {
		return torrent("d6:lengthi100e4:name1:a12:piece lengthi16384e" + pieces(1) + extra + "e")
	}
	files := func(list string) []byte {
		return torrent("d5:files" + list + "4:name3:dir12:piece lengthi16384e" + pieces(1) + "e")
	}
	tests := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"empty input", []byte(""), "empty input"},
		{"not a dictionary", []byte("li1ee"), "not a dictionary"},
		{"trailing bytes", append(single(""), 'x'), "trailing"},
		{"missing info", []byte("d8:announce1:xe"), "missing info"},
		{"info is a list", []byte("d4:infoli1eee"), "not a dictionary"},
		{"info is a string", []byte("d4:info3:abce"), "not a dictionary"},
		{"duplicate top-level key", []byte("d8:announce1:x8:announce1:y4:infodee"), "duplicate dictionary key \"announce\""},
		{"duplicate info key", torrent("d6:lengthi1e6:lengthi2e4:name1:a12:piece lengthi16384e" + pieces(1) + "e"), "duplicate dictionary key \"length\""},
		{"duplicate key out of order", torrent("d4:name1:a6:lengthi1e4:name1:be"), "duplicate dictionary key \"name\""},
		{"leading zero integer", torrent("d6:lengthi0100e4:name1:a12:piece lengthi16384e" + pieces(1) + "e"), "leading zero"},
		{"negative zero", torrent("d6:lengthi-0e4:name1:ae"), "negative zero"},
		{"huge integer", torrent("d6:lengthi99999999999999999999e4:name1:ae"), "out of range"},
		{"string past end", []byte("d4:info5:abc"), "runs past the end"},
		{"absurd string length", []byte("d4:info99999999999999999999999999:x"), "string longer than the data"},
		{"absurd nesting", []byte("d4:info" + strings.Repeat("l", 10000) + strings.Repeat("e", 10000) + "e"), "nesting deeper"},
		{"unterminated", []byte("d4:infod4:name1:a"), "unterminated"},
		{"non-string key", []byte("di1e1:ae"), "key is not a string"},
		{"missing name", torrent("d6:lengthi100e12:piece lengthi16384e" + pieces(1) + "e"), "missing name"},
		{"missing pieces", torrent("d6:lengthi100e4:name1:a12:piece lengthi16384ee"), "missing pieces"},
		{"v2 only", torrent("d9:file treede12:meta versioni2e4:name1:a12:piece lengthi16384ee"), "v2-only torrents are not supported yet"},
		{"piece length zero", torrent("d6:lengthi100e4:name1:a12:piece lengthi0e" + pieces(1) + "e"), "not positive"},
		{"piece length negative", torrent("d6:lengthi100e4:name1:a12:piece lengthi-16384e" + pieces(1) + "e"), "not positive"},
		{"piece length not power of two", torrent("d6:lengthi100e4:name1:a12:piece lengthi10000e" + pieces(1) + "e"), "not a power of two"},
		{"piece length too large", torrent("d6:lengthi100e4:name1:a12:piece lengthi1073741824e" + pieces(1) + "e"), "exceeds"},
		{"pieces not multiple of 20", torrent("d6:lengthi100e4:name1:a12:piece lengthi16384e6:pieces19:" + strings.Repeat("h", 19) + "e"), "not a multiple of 20"},
		{"too few pieces", torrent("d6:lengthi40000e4:name1:a12:piece lengthi16384e" + pieces(2) + "e"), "need 3"},
		{"too many pieces", torrent("d6:lengthi100e4:name1:a12:piece lengthi16384e" + pieces(2) + "e"), "need 1"},
		{"negative length", torrent("d6:lengthi-5e4:name1:a12:piece lengthi16384e" + pieces(1) + "e"), "out of range"},
		{"zero length", torrent("d6:lengthi0e4:name1:a12:piece lengthi16384e" + pieces(0) + "e"), "no content"},
		{"both length and files", single("5:filesld6:lengthi1e4:pathl1:beee"), "both length and files"},
		{"neither length nor files", torrent("d4:name1:a12:piece lengthi16384e" + pieces(1) + "e"), "neither length nor files"},
		{"empty files", files("le"), "files is empty"},
		{"file without length", files("ld4:pathl1:beee"), "missing length"},
		{"file negative length", files("ld6:lengthi-1e4:pathl1:beee"), "out of range"},
		{"file lengths overflow", files("ld6:lengthi999999999999999999e4:pathl1:bee" + "d6:lengthi999999999999999999e4:pathl1:ceee"), "out of range"},
		{"empty path", files("ld6:lengthi100e4:pathleee"), "empty path"},
		{"dot dot", files("ld6:lengthi100e4:pathl2:..1:beee"), `".."`},
		{"dot", files("ld6:lengthi100e4:pathl1:.1:beee"), `"."`},
		{"empty component", files("ld6:lengthi100e4:pathl0:1:beee"), "empty path component"},
		{"absolute path", files("ld6:lengthi100e4:pathl4:/etceee"), "separator"},
		{"slash inside", files("ld6:lengthi100e4:pathl5:a/../eee"), "separator"},
		{"backslash", files("ld6:lengthi100e4:pathl5:..\\abeee"), "separator"},
		{"drive letter", files("ld6:lengthi100e4:pathl3:C:xeee"), "drive letter"},
		{"NUL in path", files("ld6:lengthi100e4:pathl3:a\x00beee"), "NUL"},
		{"dot dot name", torrent("d6:lengthi100e4:name2:..12:piece lengthi16384e" + pieces(1) + "e"), "name"},
		{"absolute name", torrent("d6:lengthi100e4:name4:/etc12:piece lengthi16384e" + pieces(1) + "e"), "name"},
		{"empty name", torrent("d6:lengthi100e4:name0:12:piece lengthi16384e" + pieces(1) + "e"), "name"},
		{"duplicate paths", files("ld6:lengthi50e4:pathl1:bee" + "d6:lengthi50e4:pathl1:beee"), "duplicates"},
		{"file is also a folder", files("ld6:lengthi50e4:pathl1:bee" + "d6:lengthi50e4:pathl1:b1:ceee"), "folder"},
		{"folder is also a file", files("ld6:lengthi50e4:pathl1:b1:cee" + "d6:lengthi50e4:pathl1:beee"), "folder"},
		{"wrong type for length", torrent("d6:length3:abc4:name1:a12:piece lengthi16384e" + pieces(1) + "e"), "length"},
		{"wrong type for files", torrent("d5:filesi1e4:name1:a12:piece lengthi16384e" + pieces(1) + "e"), "files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := metainfo.Parse(tt.data)
			if err == nil {
				t.Fatalf("Parse(%.60q) = %v, want an error containing %q", tt.data, m.Info.Name, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%.60q) error = %q, want it to contain %q", tt.data, err, tt.want)
			}
		})
	}
}

func TestParseSyntaxErrorNamesOffset(t *testing.T) {
	data := []byte("d4:infod4:name1:ai05eee")
	_, err := metainfo.Parse(data)
	var se *metainfo.SyntaxError
	if !asSyntax(err, &se) || se.Offset != 17 {
		t.Fatalf("Parse(%q) = %v, want a SyntaxError at byte 17", data, err)
	}
}

func asSyntax(err error, target **metainfo.SyntaxError) bool {
	se, ok := err.(*metainfo.SyntaxError)
	if ok {
		*target = se
	}
	return ok
}

func TestParseAcceptsUnsortedKeysAndUTF8Names(t *testing.T) {
	data := torrent("d4:name3:bad10:name.utf-85:good!6:lengthi100e12:piece lengthi16384e" + pieces(1) + "e")
	m, err := metainfo.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Info.Name != "good!" {
		t.Errorf("Name = %q, want the name.utf-8 value", m.Info.Name)
	}
}

func TestParseIgnoresMistypedOptionalFields(t *testing.T) {
	data := []byte("d8:announcei5e7:commentle10:created byi3e4:infod6:lengthi100e4:name1:a12:piece lengthi16384e" + pieces(1) + "e8:url-list9:http://x/e")
	m, err := metainfo.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.URLList) != 1 || m.URLList[0] != "http://x/" {
		t.Errorf("URLList = %v, want the single-string url-list", m.URLList)
	}
}

// blob makes the deterministic content testdata/make-fixtures.sh writes.
func blob(name string, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		s := sha256.Sum256([]byte(fmt.Sprintf("%s:%d", name, i)))
		out = append(out, s[:]...)
	}
	return out[:n]
}

func writeFixtureContent(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []struct {
		path string
		n    int
	}{{"album/a.txt", 100}, {"album/sub/b.bin", 40000}, {"album/sub/deep/c.bin", 70001},
		{"album/z.txt", 1}, {"album/empty", 0}, {"single.bin", 200000}} {
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, blob(f.path, f.n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBuildMatchesMktorrent(t *testing.T) {
	dir := writeFixtureContent(t)
	tests := []struct {
		name    string
		path    string
		pl      int64
		private bool
		want    string
	}{
		// Same content and piece length as the mktorrent fixtures.
		{"single file", "single.bin", 32 << 10, false, "20537dbc4daf74937ca78cfc87ec0d1679541d20"},
		{"folder, private", "album", 64 << 10, true, "afc89aea932c2e6077293c8501b533cb54b0bfcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, workers := range []int{1, 3} {
				m, err := metainfo.Build(t.Context(), metainfo.BuildConfig{
					Path: filepath.Join(dir, tt.path), PieceLength: tt.pl, Private: tt.private, Workers: workers,
					Tiers: [][]string{{"http://a/announce", "http://b/announce"}, {"http://c/announce"}},
				})
				if err != nil {
					t.Fatal(err)
				}
				if got := m.InfoHash.String(); got != tt.want {
					t.Errorf("workers=%d: InfoHash = %s, want %s (mktorrent's)", workers, got, tt.want)
				}
				if m.Announce != "http://a/announce" || len(m.AnnounceList) != 2 {
					t.Errorf("trackers: announce %q, list %v", m.Announce, m.AnnounceList)
				}
			}
		})
	}
}

func TestBuildProgressReachesTotal(t *testing.T) {
	dir := writeFixtureContent(t)
	var last, total int64
	_, err := metainfo.Build(t.Context(), metainfo.BuildConfig{
		Path: filepath.Join(dir, "album"), PieceLength: 16 << 10,
		Progress: func(d, tot int64) { last, total = d, tot },
	})
	if err != nil {
		t.Fatal(err)
	}
	if last != total || total != 110102 {
		t.Errorf("progress ended at %d of %d, want 110102 of 110102", last, total)
	}
}

// TestBuildAutoPieceLengthAndSave: PieceLengthAuto picks the piece length
// from the content's size, and Save writes a file Load reads back whole.
func TestBuildAutoPieceLengthAndSave(t *testing.T) {
	dir := writeFixtureContent(t)
	m, err := metainfo.Build(t.Context(), metainfo.BuildConfig{Path: filepath.Join(dir, "album"), PieceLength: metainfo.PieceLengthAuto})
	if err != nil {
		t.Fatal(err)
	}
	if want := metainfo.AutoPieceLength(110102); m.Info.PieceLength != want {
		t.Errorf("auto piece length %d, want %d", m.Info.PieceLength, want)
	}
	out := filepath.Join(t.TempDir(), "album.torrent")
	if err := m.Save(out); err != nil {
		t.Fatal(err)
	}
	back, err := metainfo.Load(out)
	if err != nil || back.InfoHash != m.InfoHash {
		t.Fatalf("Load after Save: %v, %v", back, err)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("saved file: %v, %v; want mode 0644", st, err)
	}
	if err := m.Save(filepath.Join(dir, "no such folder", "x.torrent")); err == nil {
		t.Error("Save into a missing folder succeeded")
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Errorf("Save left %d files beside the torrent", len(entries)-1)
	}
}

func TestBuildRefusesLinksAndSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "withlink"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "withlink", "real"), []byte("data"), 0o644))
	must(os.Symlink("/etc/passwd", filepath.Join(dir, "withlink", "link")))
	must(os.Symlink(filepath.Join(dir, "withlink", "real"), filepath.Join(dir, "toplink")))
	must(os.MkdirAll(filepath.Join(dir, "empty", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "zero"), nil, 0o644))
	tests := []struct {
		name, path, want string
	}{
		{"symlink inside folder", "withlink", "symlink"},
		{"symlink given", "toplink", "symlink"},
		{"empty folder", "empty", "no files"},
		{"zero bytes", "zero", "nothing to share"},
		{"missing", "nope", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := metainfo.Build(t.Context(), metainfo.BuildConfig{Path: filepath.Join(dir, tt.path)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build(%s) error = %v, want one containing %q", tt.path, err, tt.want)
			}
		})
	}
}

func TestPieceLengthRules(t *testing.T) {
	auto := []struct {
		total, want int64
	}{
		{1, 16 << 10},
		{32 << 20, 16 << 10},
		{33 << 20, 32 << 10},
		{1 << 30, 512 << 10},
		{4 << 30, 2 << 20},
		{1 << 40, 16 << 20},
	}
	for _, tt := range auto {
		if got := metainfo.AutoPieceLength(tt.total); got != tt.want {
			t.Errorf("AutoPieceLength(%d) = %d, want %d", tt.total, got, tt.want)
		}
	}
	for _, pl := range []int64{16 << 10, 256 << 10, 64 << 20} {
		if err := metainfo.CheckPieceLength(pl); err != nil {
			t.Errorf("CheckPieceLength(%d) = %v, want nil", pl, err)
		}
	}
	for _, pl := range []int64{0, 8 << 10, 100000, 128 << 20, -1} {
		if metainfo.CheckPieceLength(pl) == nil {
			t.Errorf("CheckPieceLength(%d) = nil, want an error", pl)
		}
	}
}

// BEP 47 attributes: p (pad), x (executable), h (hidden), per file and on
// a single-file info dict.
func TestParseFileAttributes(t *testing.T) {
	pieces := strings.Repeat("x", 20)
	multi := "d4:infod5:filesl" +
		"d4:attr1:x6:lengthi10e4:pathl3:rune" +
		"e" + "d4:attr1:p6:lengthi6e4:pathl4:.pad1:6ee" +
		"d4:attr2:hx6:lengthi4e4:pathl4:.dotee" +
		"e4:name3:dir12:piece lengthi16384e6:pieces20:" + pieces + "ee"
	m, err := metainfo.Parse([]byte(multi))
	if err != nil {
		t.Fatalf("Parse(multi): %v", err)
	}
	type attrs struct{ pad, exec, hidden bool }
	want := []attrs{{false, true, false}, {true, false, false}, {false, true, true}}
	for i, f := range m.Info.Files {
		if got := (attrs{f.Padding, f.Executable, f.Hidden}); got != want[i] {
			t.Errorf("file %d %s: %+v, want %+v", i, f.DisplayPath(), got, want[i])
		}
	}
	single := "d4:infod4:attr1:x6:lengthi10e4:name3:run12:piece lengthi16384e6:pieces20:" + pieces + "ee"
	m, err = metainfo.Parse([]byte(single))
	if err != nil {
		t.Fatalf("Parse(single): %v", err)
	}
	if !m.Info.Files[0].Executable {
		t.Errorf("single-file attr x: Executable false")
	}
}
