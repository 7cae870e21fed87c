package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"swarm/internal/atomicfile"
)

// State on disk: one folder per daemon, <state>/torrents/ holding for each
// torrent <infohash>.json (its record) and <infohash>.torrent (its
// metainfo, absent while a magnet link fetches it), and <state>/settings.json.
// Every file is written to a temporary name, synced, renamed over the old
// one and the folder synced, so a crash (SIGKILL, power) leaves the old
// version or the new one, never a mix. Per-torrent files rather than
// SQLite: a change touches one small file, startup reads them with no
// database engine in memory (the goal is an RSS at or below
// transmission-daemon's, which keeps the same layout of .torrent plus
// .resume files), and a user can inspect or copy one torrent's state.

// record is what persists of one torrent. Rates are bytes per second;
// times are Unix seconds, 0 for never.
type record struct {
	ID       int    `json:"id"`
	InfoHash string `json:"info_hash"`
	Name     string `json:"name"`
	// Magnet is the link, kept until the metadata is fetched.
	Magnet string `json:"magnet,omitempty"`
	Dir    string `json:"dir"`
	// MoveTo is the folder a move is taking the data to, saved before the
	// first file moves and cleared once the last has: a daemon killed in
	// between finishes the move when it starts again (finishMoves).
	MoveTo   string `json:"move_to,omitempty"`
	Paused   bool   `json:"paused"`
	QueuePos int    `json:"queue_position"`
	Added    int64  `json:"added"`
	Done     int64  `json:"done,omitempty"`
	Activity int64  `json:"activity,omitempty"`
	// Counters over the torrent's whole life, up to the last save.
	Uploaded   int64 `json:"uploaded"`
	Downloaded int64 `json:"downloaded"`
	Corrupt    int64 `json:"corrupt"`
	// Seconds spent running incomplete and complete, counted by the tick.
	SecondsDownloading int64 `json:"seconds_downloading,omitempty"`
	SecondsSeeding     int64 `json:"seconds_seeding,omitempty"`
	// Progress at the last save, shown while the torrent does not run.
	Have   int   `json:"have"`
	Left   int64 `json:"left"`
	Wanted int64 `json:"wanted"`
	// Limits of its own.
	UpLimit       int64   `json:"up_limit,omitempty"`
	UpLimited     bool    `json:"up_limited,omitempty"`
	DownLimit     int64   `json:"down_limit,omitempty"`
	DownLimited   bool    `json:"down_limited,omitempty"`
	SeedRatioMode int     `json:"seed_ratio_mode,omitempty"` // 0 the session's, 1 its own, 2 none
	SeedRatio     float64 `json:"seed_ratio,omitempty"`
	SeedIdleMode  int     `json:"seed_idle_mode,omitempty"`
	SeedIdle      int     `json:"seed_idle_minutes,omitempty"`
	// Unwanted lists the files not to download; Priorities holds one
	// -1/0/1 per file, or nil for all normal.
	Unwanted   []int    `json:"unwanted,omitempty"`
	Priorities []int    `json:"priorities,omitempty"`
	Labels     []string `json:"labels,omitempty"`
	// Error is the local error the torrent stopped with, "" if none.
	Error string `json:"error,omitempty"`
}

// store reads and writes the state folder.
type store struct{ dir string }

func (s store) torrents() string { return filepath.Join(s.dir, "torrents") }

func (s store) recordPath(hash string) string  { return filepath.Join(s.torrents(), hash+".json") }
func (s store) torrentPath(hash string) string { return filepath.Join(s.torrents(), hash+".torrent") }

func (s store) init() error {
	if err := os.MkdirAll(s.torrents(), 0o755); err != nil {
		return fmt.Errorf("create state folder: %w", err)
	}
	return nil
}

// encode is r as saved.
func encode(r *record) ([]byte, error) { return json.MarshalIndent(r, "", "\t") }

// save writes r durably.
func (s store) save(r *record) error {
	b, err := encode(r)
	if err != nil {
		return err
	}
	return atomicfile.Write(s.recordPath(r.InfoHash), b, 0o600, true)
}

// saveData writes a record already encoded; with sync false the caller
// syncs the file system once for many (syncAll).
func (s store) saveData(hash string, b []byte, sync bool) error {
	return atomicfile.Write(s.recordPath(hash), b, 0o600, sync)
}

// syncAll makes every write to the state folder's file system durable.
func (s store) syncAll() error { return syncFS(s.torrents()) }

// saveTorrent writes the metainfo of the torrent hash durably.
func (s store) saveTorrent(hash string, data []byte) error {
	return atomicfile.Write(s.torrentPath(hash), data, 0o600, true)
}

// remove deletes a torrent's files; missing ones are no error.
func (s store) remove(hash string) error {
	var errs []error
	for _, p := range []string{s.recordPath(hash), s.torrentPath(hash)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, atomicfile.SyncDir(s.torrents()))
	}
	return errors.Join(errs...)
}

// load returns every record, and for each unreadable one an error naming it.
func (s store) load() ([]*record, []error) {
	ents, err := os.ReadDir(s.torrents())
	if err != nil {
		return nil, []error{fmt.Errorf("read state folder: %w", err)}
	}
	var recs []*record
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.torrents(), name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r := new(record)
		if err := json.Unmarshal(b, r); err != nil || r.InfoHash+".json" != name {
			errs = append(errs, fmt.Errorf("state file %s: not a torrent record (%v)", name, err))
			continue
		}
		recs = append(recs, r)
	}
	return recs, errs
}
