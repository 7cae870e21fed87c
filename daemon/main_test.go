package daemon_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a daemon starts has ended once Wait returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
