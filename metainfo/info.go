package metainfo

import (
	"errors"
	"fmt"
	"strings"

	"github.com/anacrolix/torrent/bencode"
)

// Limits for what a torrent may describe.
const (
	// MaxPieceLength is the largest piece length accepted (128 MiB): a
	// piece is buffered whole for hashing.
	MaxPieceLength = 128 << 20
	// MaxFiles bounds the number of files in one torrent.
	MaxFiles = 1 << 20
	// maxTotalLength bounds the content size (1 PiB) so sums never overflow.
	maxTotalLength = 1 << 50
	// maxPathDepth bounds the components of one file path.
	maxPathDepth = 64
)

// Info is the info dictionary of a torrent: what the content is.
type Info struct {
	// Name is the file name (single-file) or the folder name (multi-file).
	Name string
	// PieceLength is the length of every piece but the last, in bytes.
	PieceLength int64
	// Pieces holds one SHA-1 per piece.
	Pieces []Hash
	// Files lists the content in order; a single-file torrent has one
	// File whose Path is [Name].
	Files []File
	// Length is the total content length in bytes, padding included.
	Length int64
	// MultiFile is true when the torrent uses the "files" list, so its
	// content lives in a folder named Name.
	MultiFile bool
	// Private is the BEP 27 flag: peers come from the trackers only.
	Private bool
	// Source is the optional "source" tag private trackers use.
	Source string
	// Hybrid is true for a v1+v2 torrent (read through its v1 part).
	Hybrid bool
}

// File is one file of a torrent.
type File struct {
	// Path is the file's path below the torrent's folder, one element per
	// component; for a single-file torrent it is [Name].
	Path []string
	// Length in bytes.
	Length int64
	// Offset of the file's first byte within the torrent's content.
	Offset int64
	// Padding marks a BEP 47 pad file: zeros that are never written to disk.
	Padding bool
	// Executable and Hidden are the BEP 47 attributes x and h. Storage
	// creates an executable file with mode 0755 (less the umask); hidden
	// means nothing on Unix, where a file is hidden by a leading dot in
	// its name, and the name is the torrent's to choose.
	Executable, Hidden bool
}

// DisplayPath returns the path joined with "/".
func (f File) DisplayPath() string { return strings.Join(f.Path, "/") }

// NumPieces returns the number of pieces.
func (i *Info) NumPieces() int { return len(i.Pieces) }

// PieceLen returns the length of piece p; the last piece may be shorter.
func (i *Info) PieceLen(p int) int64 {
	if p == len(i.Pieces)-1 {
		return i.Length - int64(p)*i.PieceLength
	}
	return i.PieceLength
}

// rawInfo is the info dictionary as bencode sees it. Pointers tell a missing
// key from a zero value.
type rawInfo struct {
	Name        *string    `bencode:"name"`
	NameUTF8    string     `bencode:"name.utf-8,omitempty,ignore_unmarshal_type_error"`
	PieceLength *int64     `bencode:"piece length"`
	Pieces      *string    `bencode:"pieces"`
	Length      *int64     `bencode:"length"`
	Files       *[]rawFile `bencode:"files"`
	Private     int64      `bencode:"private"`
	Source      string     `bencode:"source,omitempty,ignore_unmarshal_type_error"`
	MetaVersion int64      `bencode:"meta version,ignore_unmarshal_type_error"`
	Attr        string     `bencode:"attr,omitempty,ignore_unmarshal_type_error"` // BEP 47, single-file
}

type rawFile struct {
	Length   *int64   `bencode:"length"`
	Path     []string `bencode:"path"`
	PathUTF8 []string `bencode:"path.utf-8,omitempty,ignore_unmarshal_type_error"`
	Attr     string   `bencode:"attr,omitempty,ignore_unmarshal_type_error"`
}

// ParseInfo parses a bencoded info dictionary on its own, as received by
// metadata exchange (BEP 9). The caller checks its hash.
func ParseInfo(data []byte) (*Info, error) {
	if err := checkValue(data); err != nil {
		return nil, err
	}
	return parseInfo(data, 0)
}

// parseInfo decodes and validates an info dictionary that has passed the
// syntax check; at is its offset in the file, for error messages.
func parseInfo(data []byte, at int) (*Info, error) {
	if len(data) == 0 || data[0] != 'd' {
		return nil, fmt.Errorf("info at byte %d is not a dictionary", at)
	}
	var raw rawInfo
	if err := bencode.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("info at byte %d: %w", at, err)
	}
	info := &Info{Source: raw.Source}
	fail := func(format string, args ...any) (*Info, error) {
		return nil, fmt.Errorf("info: "+format, args...)
	}

	switch {
	case raw.Name == nil:
		return fail("missing name")
	case raw.PieceLength == nil:
		return fail("missing piece length")
	case raw.Pieces == nil && raw.MetaVersion == 2:
		return fail("v2-only torrent (meta version 2 without pieces): v2-only torrents are not supported yet; v1 and hybrid v1+v2 ones are")
	case raw.Pieces == nil:
		return fail("missing pieces")
	}
	info.Hybrid = raw.MetaVersion == 2
	info.Name = *raw.Name
	if raw.NameUTF8 != "" {
		info.Name = raw.NameUTF8
	}
	if err := checkComponent(info.Name); err != nil {
		return fail("name: %v", err)
	}

	pl := *raw.PieceLength
	switch {
	case pl <= 0:
		return fail("piece length %d is not positive", pl)
	case pl&(pl-1) != 0:
		return fail("piece length %d is not a power of two", pl)
	case pl > MaxPieceLength:
		return fail("piece length %d exceeds %d MiB", pl, MaxPieceLength>>20)
	}
	info.PieceLength = pl

	if raw.Private == 1 {
		info.Private = true
	}

	switch {
	case raw.Length != nil && raw.Files != nil:
		return fail("has both length and files")
	case raw.Length == nil && raw.Files == nil:
		return fail("has neither length nor files")
	case raw.Length != nil:
		n := *raw.Length
		if n < 0 || n > maxTotalLength {
			return fail("length %d out of range", n)
		}
		info.Files = []File{{Path: []string{info.Name}, Length: n,
			Executable: strings.Contains(raw.Attr, "x"), Hidden: strings.Contains(raw.Attr, "h")}}
		info.Length = n
	default:
		if err := info.setFiles(*raw.Files); err != nil {
			return nil, fmt.Errorf("info: %w", err)
		}
	}
	if info.Length == 0 {
		return fail("torrent has no content (total length 0)")
	}

	ps := *raw.Pieces
	if len(ps)%20 != 0 {
		return fail("pieces is %d bytes, not a multiple of 20", len(ps))
	}
	want := (info.Length + pl - 1) / pl
	if int64(len(ps)/20) != want {
		return fail("pieces holds %d hashes, but %d bytes in pieces of %d need %d", len(ps)/20, info.Length, pl, want)
	}
	info.Pieces = make([]Hash, len(ps)/20)
	for i := range info.Pieces {
		copy(info.Pieces[i][:], ps[i*20:])
	}
	return info, nil
}

func (info *Info) setFiles(raw []rawFile) error {
	if len(raw) == 0 {
		return errors.New("files is empty")
	}
	if len(raw) > MaxFiles {
		return fmt.Errorf("files has %d entries, more than %d", len(raw), MaxFiles)
	}
	info.MultiFile = true
	info.Files = make([]File, 0, len(raw))
	files := make(map[string]int, len(raw)) // path → index, for duplicates
	dirs := make(map[string]bool)
	var total int64
	for i, rf := range raw {
		if rf.Length == nil {
			return fmt.Errorf("files[%d]: missing length", i)
		}
		n := *rf.Length
		if n < 0 || n > maxTotalLength-total {
			return fmt.Errorf("files[%d]: length %d out of range", i, n)
		}
		path := rf.Path
		if len(rf.PathUTF8) > 0 {
			path = rf.PathUTF8
		}
		if len(path) == 0 {
			return fmt.Errorf("files[%d]: empty path", i)
		}
		if len(path) > maxPathDepth {
			return fmt.Errorf("files[%d]: path has %d components, more than %d", i, len(path), maxPathDepth)
		}
		for _, c := range path {
			if err := checkComponent(c); err != nil {
				return fmt.Errorf("files[%d]: path %q: %v", i, strings.Join(path, "/"), err)
			}
		}
		f := File{Path: path, Length: n, Offset: total, Padding: strings.Contains(rf.Attr, "p"),
			Executable: strings.Contains(rf.Attr, "x"), Hidden: strings.Contains(rf.Attr, "h")}
		total += n
		info.Files = append(info.Files, f)
		if f.Padding {
			continue // pad files are never written, and may share names
		}
		key := strings.Join(path, "/")
		if j, dup := files[key]; dup {
			return fmt.Errorf("files[%d]: path %q duplicates files[%d]", i, key, j)
		}
		if dirs[key] {
			return fmt.Errorf("files[%d]: path %q is also a folder of another file", i, key)
		}
		files[key] = i
		for k := 1; k < len(path); k++ {
			d := strings.Join(path[:k], "/")
			if j, clash := files[d]; clash {
				return fmt.Errorf("files[%d]: folder %q is also files[%d]", i, d, j)
			}
			dirs[d] = true
		}
	}
	info.Length = total
	return nil
}

// checkComponent refuses a path component that could name something outside
// the download folder or that file systems treat specially.
func checkComponent(c string) error {
	switch {
	case c == "":
		return errors.New("empty path component")
	case c == "." || c == "..":
		return fmt.Errorf("path component %q", c)
	case strings.ContainsRune(c, 0):
		return errors.New("NUL byte in path component")
	case strings.ContainsAny(c, `/\`):
		return fmt.Errorf("separator in path component %q", c)
	case len(c) >= 2 && c[1] == ':' && isLetter(c[0]):
		return fmt.Errorf("drive letter in path component %q", c)
	case len(c) > 255:
		return fmt.Errorf("path component of %d bytes, more than 255", len(c))
	}
	return nil
}

func isLetter(b byte) bool { return 'a' <= b|0x20 && b|0x20 <= 'z' }
