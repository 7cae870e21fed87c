package session

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"swarm/internal/atomicfile"
	"swarm/metainfo"
	"swarm/piece"
	"swarm/storage"
)

// StateDir is the folder inside a download folder that holds swarm's
// resume records; a torrent named so uses StateDir + "-swarm" instead.
const StateDir = ".swarm"

// OpenOptions tunes OpenContent.
type OpenOptions struct {
	// Logger receives progress of the check; nil means none.
	Logger *zerolog.Logger
	// CheckWorkers hash existing data; 0 means one per CPU.
	CheckWorkers int
	// Progress, if set, is called while existing data is checked.
	Progress func(done, total int)
	// Skip, if set, reports the files (indexes into m.Info.Files) not to
	// download: pieces wholly inside skipped files are not wanted, and
	// those files are not created. A piece a skipped file shares with a
	// wanted one is still downloaded, because only a whole piece can be
	// verified, so such a file appears, sparse, holding just that piece.
	Skip func(file int) bool
	// ReadOnly is for seeding: the content is opened read-only (nothing is
	// created, written or truncated below dir, not even a resume record),
	// and only the pieces found verified are wanted, so the torrent
	// uploads them and never requests a block. A valid resume record is
	// still read.
	ReadOnly bool
}

// OpenContent opens the content of m in dir (creating nothing until data
// arrives) and finds out which pieces are already there: from the resume
// record if it is still valid, otherwise by hashing what exists. The
// returned config has Store, Have and SaveResume set; the caller adds the
// rest and closes Store if it does not hand the config to NewTorrent.
func OpenContent(ctx context.Context, m *metainfo.MetaInfo, dir string, opts OpenOptions) (TorrentConfig, error) {
	log := zerolog.Nop()
	if opts.Logger != nil {
		log = *opts.Logger
	}
	open := storage.NewFile
	if opts.ReadOnly {
		open = storage.NewFileReadOnly
	}
	st, err := open(dir, &m.Info)
	if err != nil {
		return TorrentConfig{}, err
	}
	var wanted func(p int) bool
	if opts.Skip != nil {
		w := wantedPieces(&m.Info, opts.Skip)
		wanted = w.Has
		for i := range m.Info.Files {
			if opts.Skip(i) {
				st.Skip(i)
			}
		}
	}
	rec := storage.Resume{
		Path:     ResumePath(m, dir),
		InfoHash: m.InfoHash,
		Info:     &m.Info,
		Dir:      dir,
	}
	have, err := rec.Load()
	saved := err == nil
	switch {
	case err == nil:
		log.Debug().Int("have", have.Count()).Msg("resume record valid")
	default:
		if !errors.Is(err, storage.ErrStaleResume) && !errors.Is(err, fs.ErrNotExist) {
			log.Warn().Err(err).Msg("resume record unusable; checking the data")
		}
		have, err = storage.Check(ctx, st, &m.Info, opts.CheckWorkers, opts.Progress)
		if err != nil {
			st.Close()
			return TorrentConfig{}, fmt.Errorf("check existing data in %s: %w", dir, err)
		}
		log.Debug().Int("have", have.Count()).Msg("existing data checked")
	}
	if opts.ReadOnly {
		want := wanted
		wanted = func(p int) bool { return have.Has(p) && (want == nil || want(p)) }
		return TorrentConfig{Store: st, Have: have, Wanted: wanted}, nil
	}
	return TorrentConfig{
		Store:      st,
		Have:       have,
		SaveResume: func(h *piece.Bitfield) error { return rec.Save(h) },
		HaveSaved:  saved,
		Wanted:     wanted,
	}, nil
}

// ResumePath is where OpenContent keeps m's resume record for content in
// dir: in StateDir below dir (StateDir + "-swarm" for a torrent named
// StateDir).
func ResumePath(m *metainfo.MetaInfo, dir string) string {
	state := StateDir
	if m.Info.Name == state {
		state += "-swarm"
	}
	return filepath.Join(dir, state, m.InfoHash.String()+".resume")
}

// CleanState removes from dir's StateDir the temporary files an
// interrupted write of a resume record or of the DHT state left there
// (those over atomicfile.MinAge old), and returns how many. It reads the
// whole folder: call it once per download folder at start, not per
// torrent. A missing folder is no error.
//
// Only the names of what swarm writes there are removed (a resume record's
// or the DHT state's temporary file, of this swarm or an older one): the
// folder is a torrent's content when the torrent is named StateDir (its
// own state goes to StateDir + "-swarm"), and a user's .tmp-notes there
// went with the rest (attack3).
func CleanState(dir string) (int, error) {
	return atomicfile.CleanMatching(filepath.Join(dir, StateDir), atomicfile.MinAge, isStateTemp)
}

// isStateTemp reports whether name is a temporary file of a resume record
// (.swarm-tmp-HASH.resume-*, before HASH.resume.*.tmp) or of the DHT
// state (.swarm-tmp-dht.state-*, before .dht-*.tmp).
func isStateTemp(name string) bool {
	if rest, ok := strings.CutPrefix(name, ".swarm-tmp-"); ok {
		return strings.HasPrefix(rest, "dht.state-") || isHashName(rest, ".resume-")
	}
	if strings.HasPrefix(name, ".dht-") && strings.HasSuffix(name, ".tmp") {
		return true
	}
	return strings.HasSuffix(name, ".tmp") && isHashName(name, ".resume.")
}

// isHashName reports whether name is a hex info hash followed by sep.
func isHashName(name, sep string) bool {
	const n = 2 * len(metainfo.Hash{})
	if len(name) < n+len(sep) || name[n:n+len(sep)] != sep {
		return false
	}
	_, err := hex.DecodeString(name[:n])
	return err == nil
}

// wantedPieces returns the pieces that hold bytes of a file not skipped
// (pad files aside).
func wantedPieces(info *metainfo.Info, skip func(file int) bool) *piece.Bitfield {
	w := piece.NewBitfield(info.NumPieces())
	for i, f := range info.Files {
		if f.Padding || f.Length == 0 || skip(i) {
			continue
		}
		last := int((f.Offset + f.Length - 1) / info.PieceLength)
		for p := int(f.Offset / info.PieceLength); p <= last; p++ {
			w.Set(p)
		}
	}
	return w
}
