//go:build unix

package session

import "syscall"

// fdLimit is the process's limit on open descriptors (RLIMIT_NOFILE, the
// soft limit, which Go raises to the hard one at start); 0 if unknown.
func fdLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return int(min(r.Cur, 1<<30))
}
