//go:build !unix

package daemon

import "errors"

func freeSpace(string) (int64, error) {
	return 0, errors.New("free space: not supported on this system")
}
