package metainfo

import (
	"bytes"
	"fmt"
)

// FromInfo builds a MetaInfo around an info dictionary received on its own,
// as metadata exchange (BEP 9) delivers it for a magnet link, with trackers
// as BEP 12 tiers (empty URLs and tiers are dropped; the first URL is also
// "announce"). The document is put together and read back through Parse, so
// the info dictionary passes every check a .torrent file's does, and the
// info hash is the SHA-1 of exactly infoBytes. FromInfo does not check that
// hash against anything: the caller compares it with the one it asked for.
func FromInfo(infoBytes []byte, trackers [][]string) (*MetaInfo, error) {
	if len(infoBytes) == 0 {
		return nil, fmt.Errorf("info dictionary: empty")
	}
	m := &MetaInfo{InfoBytes: infoBytes}
	for _, tier := range trackers {
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
	if len(m.AnnounceList) > 0 {
		m.Announce = m.AnnounceList[0][0]
		if len(m.AnnounceList) == 1 && len(m.AnnounceList[0]) == 1 {
			m.AnnounceList = nil // one tracker: "announce" alone, as Build writes it
		}
	}
	enc, err := m.Encode()
	if err != nil {
		return nil, err
	}
	out, err := Parse(enc)
	if err != nil {
		return nil, fmt.Errorf("info dictionary: %w", err)
	}
	if !bytes.Equal(out.InfoBytes, infoBytes) {
		// Only possible if infoBytes is not one whole value, which Parse refuses.
		return nil, fmt.Errorf("info dictionary: %d bytes read back as %d", len(infoBytes), len(out.InfoBytes))
	}
	return out, nil
}
