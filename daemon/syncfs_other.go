//go:build !linux

package daemon

import "swarm/internal/atomicfile"

// syncFS makes the renames in dir durable; without syncfs(2) the records'
// contents are left to the system's write-back.
func syncFS(dir string) error { return atomicfile.SyncDir(dir) }
