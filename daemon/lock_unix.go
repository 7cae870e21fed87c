//go:build unix

package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockState takes an exclusive lock on dir/lock until release is called or
// the process ends (the kernel drops it then, even after kill -9): two
// daemons on one state folder would overwrite each other's records and
// write the same files.
func lockState(dir string) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock the state folder: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("state folder %s is in use by another swarm daemon: stop that one, or give this one another state folder", dir)
		}
		return nil, fmt.Errorf("lock the state folder %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
