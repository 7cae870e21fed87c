// Package redistest starts a private redis-server for a test: on a
// 127.0.0.1 ephemeral port, with its files in the test's temporary
// directory, ended by its PID when the test ends.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Start starts a redis-server and returns its URL (redis://127.0.0.1:PORT/0).
// Without redis-server it skips the test, or fails it when SWARM_INTEROP=1
// (as in CI, where scripts/install-deps.sh installs it).
func Start(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("SWARM_INTEROP") == "1" {
			tb.Fatalf("redis-server is required (SWARM_INTEROP=1; scripts/install-deps.sh installs it): %v", err)
		}
		tb.Skipf("redis-server not installed (apt-get install redis-server): %v", err)
	}
	dir := tb.TempDir()
	// The port is picked free and then handed to redis-server, so another
	// process may take it in between: try a few times.
	var lastErr error
	for range 3 {
		url, err := start(tb, bin, dir)
		if err == nil {
			return url
		}
		lastErr = err
	}
	tb.Fatalf("start redis-server: %v", lastErr)
	return ""
}

func start(tb testing.TB, bin, dir string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logPath := dir + "/redis-" + strconv.Itoa(port) + ".log"
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--appendonly", "no", "--logfile", logPath, "--daemonize", "no")
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 200 && time.Now().Before(deadline); i++ {
		select {
		case err := <-exited:
			exited <- err
			stop()
			log, _ := os.ReadFile(logPath)
			return "", fmt.Errorf("redis-server on port %d exited: %v\n%s", port, err, log)
		default:
		}
		if ping(addr) {
			tb.Cleanup(stop)
			return "redis://" + addr + "/0", nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", fmt.Errorf("redis-server on port %d did not answer PING within 10 s", port)
}

// ping reports whether a Redis answers PING at addr.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}
