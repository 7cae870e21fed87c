package daemon

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes every write of the file system that holds dir (syncfs(2)):
// one call for a batch of records written without their own fsync.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
