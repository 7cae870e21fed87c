//go:build !unix

package daemon

// lockState does nothing where flock(2) is missing.
func lockState(dir string) (release func(), err error) { return func() {}, nil }
