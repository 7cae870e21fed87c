package session_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"swarm/session"
)

// TestCleanStateKeepsATorrentNamedLikeIt: a torrent named StateDir has its
// content in a download folder's StateDir (its resume record goes to
// StateDir-swarm); cleaning that folder at start removes the temporary
// files swarm writes there and none of the torrent's, whatever they are
// named. Before, every name a temporary file of any kind could have went
// (.tmp-*, .swarm-tmp-*, *.resume.*.tmp).
func TestCleanStateKeepsATorrentNamedLikeIt(t *testing.T) {
	dl := t.TempDir()
	h := strings.Repeat("ab", 20)
	files := map[string]bool{ // name in dl/.swarm: removed
		".swarm-tmp-" + h + ".resume-4": true,
		h + ".resume.5.tmp":             true,
		".swarm-tmp-dht.state-6":        true,
		".dht-7.tmp":                    true,
		".tmp-notes":                    false, // the torrent's
		".swarm-tmp-photo.jpg-1":        false,
		"draft.resume.2.tmp":            false,
		".swarm-tmp-" + h + ".json-3":   false, // a daemon record's, never here
	}
	old := time.Now().Add(-2 * time.Minute)
	for name := range files {
		p := filepath.Join(dl, session.StateDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("data"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	n, err := session.CleanState(dl)
	if err != nil || n != 4 {
		t.Errorf("CleanState = %d, %v; want 4, nil", n, err)
	}
	for name, removed := range files {
		_, err := os.Stat(filepath.Join(dl, session.StateDir, name))
		if gone := errors.Is(err, fs.ErrNotExist); gone != removed {
			t.Errorf("%s: removed %v, want %v", name, gone, removed)
		}
	}
}
