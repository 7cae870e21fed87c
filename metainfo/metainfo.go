package metainfo

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"swarm/internal/atomicfile"
)

// MaxTorrentSize bounds the .torrent files Load reads (libtorrent's default
// limit is 10 MiB; allow a little more for huge multi-file torrents).
const MaxTorrentSize = 32 << 20

// MetaInfo is a parsed .torrent file.
type MetaInfo struct {
	// Announce is the primary tracker URL ("announce"); may be empty.
	Announce string
	// AnnounceList holds the tracker tiers of BEP 12, nil if the file has none.
	AnnounceList [][]string
	// URLList holds the web seeds of BEP 19.
	URLList      []string
	Comment      string
	CreatedBy    string
	CreationDate time.Time // zero if absent
	Encoding     string

	Info     Info
	InfoHash Hash
	// InfoBytes is the bencoded info dictionary exactly as in the file; the
	// info hash is its SHA-1, and Encode writes it back unchanged.
	InfoBytes []byte
}

// Tiers returns the trackers as BEP 12 tiers: the announce-list if present,
// otherwise the single announce URL as one tier, otherwise nil.
func (m *MetaInfo) Tiers() [][]string {
	if len(m.AnnounceList) > 0 {
		return m.AnnounceList
	}
	if m.Announce != "" {
		return [][]string{{m.Announce}}
	}
	return nil
}

// Trackers returns every tracker URL once, tier by tier.
func (m *MetaInfo) Trackers() []string {
	var out []string
	seen := map[string]bool{}
	for _, tier := range m.Tiers() {
		for _, u := range tier {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	return out
}

// Magnet returns a magnet link for the torrent, with its name and trackers.
func (m *MetaInfo) Magnet() Magnet {
	return Magnet{InfoHash: m.InfoHash, Name: m.Info.Name, Trackers: m.Trackers(), WebSeeds: m.URLList}
}

// Load reads and parses a .torrent file.
func Load(path string) (*MetaInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxTorrentSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxTorrentSize {
		return nil, fmt.Errorf("%s: larger than %d MiB, not a torrent file", path, MaxTorrentSize>>20)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// rawTorrent is the top level of a .torrent as bencode sees it. Optional
// fields of the wrong type are ignored, as libtorrent does: they never change
// what is downloaded.
type rawTorrent struct {
	Announce     string        `bencode:"announce,omitempty,ignore_unmarshal_type_error"`
	AnnounceList [][]string    `bencode:"announce-list,omitempty,ignore_unmarshal_type_error"`
	URLList      urlList       `bencode:"url-list,omitempty,ignore_unmarshal_type_error"`
	Comment      string        `bencode:"comment,omitempty,ignore_unmarshal_type_error"`
	CommentUTF8  string        `bencode:"comment.utf-8,omitempty,ignore_unmarshal_type_error"`
	CreatedBy    string        `bencode:"created by,omitempty,ignore_unmarshal_type_error"`
	CreationDate int64         `bencode:"creation date,omitempty,ignore_unmarshal_type_error"`
	Encoding     string        `bencode:"encoding,omitempty,ignore_unmarshal_type_error"`
	Info         bencode.Bytes `bencode:"info"`
}

// urlList accepts BEP 19's url-list as either one string or a list.
type urlList []string

func (u *urlList) UnmarshalBencode(b []byte) error {
	var one string
	if err := bencode.Unmarshal(b, &one); err == nil {
		if one != "" {
			*u = urlList{one}
		}
		return nil
	}
	var many []string
	if err := bencode.Unmarshal(b, &many); err != nil {
		return &bencode.UnmarshalTypeError{BencodeTypeName: "value", UnmarshalTargetType: nil}
	}
	*u = many
	return nil
}

// Parse parses a .torrent file held in memory.
func Parse(data []byte) (*MetaInfo, error) {
	infoSpan, err := checkDocument(data)
	if err != nil {
		return nil, err
	}
	if infoSpan.end == 0 {
		return nil, errors.New("missing info dictionary")
	}
	var raw rawTorrent
	if err := bencode.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decode torrent: %w", err)
	}
	infoBytes := data[infoSpan.start:infoSpan.end]
	info, err := parseInfo(infoBytes, infoSpan.start)
	if err != nil {
		return nil, err
	}
	m := &MetaInfo{
		Announce:  raw.Announce,
		URLList:   raw.URLList,
		Comment:   raw.Comment,
		CreatedBy: raw.CreatedBy,
		Encoding:  raw.Encoding,
		Info:      *info,
		InfoHash:  sha1.Sum(infoBytes),
		InfoBytes: bytes.Clone(infoBytes),
	}
	if raw.CommentUTF8 != "" {
		m.Comment = raw.CommentUTF8
	}
	for _, tier := range raw.AnnounceList {
		var t []string
		for _, u := range tier {
			if u != "" {
				t = append(t, u)
			}
		}
		if len(t) > 0 {
			m.AnnounceList = append(m.AnnounceList, t)
		}
	}
	if raw.CreationDate > 0 {
		m.CreationDate = time.Unix(raw.CreationDate, 0).UTC()
	}
	return m, nil
}

// Encode returns the torrent as bencode. The info dictionary is written
// byte for byte as it was read or built, so the info hash never changes.
func (m *MetaInfo) Encode() ([]byte, error) {
	if len(m.InfoBytes) == 0 {
		return nil, errors.New("encode torrent: no info dictionary")
	}
	raw := rawTorrent{
		Announce:     m.Announce,
		AnnounceList: m.AnnounceList,
		URLList:      m.URLList,
		Comment:      m.Comment,
		CreatedBy:    m.CreatedBy,
		Encoding:     m.Encoding,
		Info:         m.InfoBytes,
	}
	if !m.CreationDate.IsZero() {
		raw.CreationDate = m.CreationDate.Unix()
	}
	b, err := bencode.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("encode torrent: %w", err)
	}
	return b, nil
}

func (u urlList) MarshalBencode() ([]byte, error) {
	return bencode.Marshal([]string(u))
}

// Save writes the torrent (Encode) to path, mode 0644, through a temporary
// file beside it renamed into place, so an interrupted write never leaves
// half a torrent.
func (m *MetaInfo) Save(path string) error {
	data, err := m.Encode()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644, true)
}
