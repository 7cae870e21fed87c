package session

import (
	"context"
	"errors"
	"fmt"

	"swarm/metainfo"
)

// ErrNothingToSeed is AddContent's error for read-only content of which no
// piece checks out: seeding it would help nobody, and the folder is most
// likely the wrong one.
var ErrNothingToSeed = errors.New("no piece of the content checks out")

// AddContent opens the content of m in dir and finds the pieces already
// there (OpenContent: the resume record, else a check of the data), then
// adds the torrent to the session with tc, whose Store, Have, SaveResume
// and Wanted it fills in. It returns ErrNothingToSeed (wrapped) for
// read-only content without a verified piece. On an error nothing is left
// open and the session is as it was.
func (s *Session) AddContent(ctx context.Context, m *metainfo.MetaInfo, dir string, tc TorrentConfig, open OpenOptions) (*Torrent, error) {
	opened, err := OpenContent(ctx, m, dir, open)
	if err != nil {
		return nil, err
	}
	if open.ReadOnly && opened.Have.Count() == 0 {
		opened.Store.Close()
		return nil, fmt.Errorf("%w: 0 of %d pieces in %s", ErrNothingToSeed, m.Info.NumPieces(), dir)
	}
	tc.Store, tc.Have, tc.SaveResume, tc.Wanted, tc.HaveSaved = opened.Store, opened.Have, opened.SaveResume, opened.Wanted, opened.HaveSaved
	t, err := s.NewTorrent(m, tc)
	if err == nil {
		err = s.AddTorrent(t)
	}
	if err != nil {
		tc.Store.Close()
		return nil, err
	}
	return t, nil
}
