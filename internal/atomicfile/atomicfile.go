package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tempPrefix starts the name of every temporary file Write makes: hidden,
// and recognisably swarm's in a folder that is not (a .torrent's).
const tempPrefix = ".swarm-tmp-"

// Write replaces path with data, with mode perm. With durable, the data
// and the rename are on disk when it returns (fsync of the file, then of
// the folder); without, the caller syncs (a batch with one syncfs, or
// nothing for a cache). The folder must exist.
func Write(path string, data []byte, perm fs.FileMode, durable bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && perm != 0o600 { // CreateTemp's
		err = os.Chmod(f.Name(), perm)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !durable {
		return nil
	}
	return SyncDir(dir)
}

// SyncDir makes the renames and removals in dir durable. A file system
// that cannot sync a folder is no error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// MinAge is how old a temporary file in a folder that another process
// may be writing to (a one-shot 'swarm get' beside the daemon) must be
// before Clean may remove it: a write takes milliseconds.
const MinAge = time.Minute

// Clean removes the temporary files Write (or an older swarm) left in dir
// when interrupted, those last changed at least minAge ago; a missing dir
// is no error. Call it only on folders swarm owns: it matches names, not
// contents. It returns how many it removed.
func Clean(dir string, minAge time.Duration) (int, error) {
	return CleanMatching(dir, minAge, isTemp)
}

// CleanMatching is Clean for the temporary files whose names match says
// are its caller's: a folder whose names may be a user's too (a download
// folder's .swarm is a torrent's content if the torrent is named so) is
// cleaned only of the names swarm writes there.
func CleanMatching(dir string, minAge time.Duration, match func(name string) bool) (int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("clean %s: %w", dir, err)
	}
	n := 0
	var errs []error
	for _, e := range ents {
		if !e.Type().IsRegular() || !match(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < minAge {
			continue // gone already, or being written
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("clean %s: %w", dir, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// isTemp reports whether name is one Write gives a temporary file, or one
// of an older swarm: the daemon's state folder's .tmp-*, the DHT state's
// .dht-*.tmp, a resume record's HASH.resume.*.tmp.
func isTemp(name string) bool {
	switch {
	case strings.HasPrefix(name, tempPrefix), strings.HasPrefix(name, ".tmp-"),
		strings.HasPrefix(name, ".dht-") && strings.HasSuffix(name, ".tmp"):
		return true
	}
	base, ok := strings.CutSuffix(name, ".tmp")
	return ok && strings.Contains(base, ".resume.")
}
