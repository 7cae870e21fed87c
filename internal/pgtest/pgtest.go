// Package pgtest starts a throwaway PostgreSQL cluster for a test: Debian's
// initdb and postgres, run as an unprivileged user (PostgreSQL refuses to
// run as root, and CI runs as root), its data in a temporary directory, on
// a 127.0.0.1 ephemeral port, stopped by its PID when the test ends.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Cluster is a running PostgreSQL server with trust authentication on
// loopback, user postgres.
type Cluster struct {
	Addr string // 127.0.0.1:PORT
	pid  int    // the postmaster's
	dbs  atomic.Int64
}

// Start starts a cluster that is stopped when tb ends. Without PostgreSQL's
// binaries it skips the test, or fails it when SWARM_INTEROP=1 (as in CI,
// where scripts/install-deps.sh installs the postgresql package).
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := findBin()
	if err != nil {
		if os.Getenv("SWARM_INTEROP") == "1" {
			tb.Fatalf("PostgreSQL is required (SWARM_INTEROP=1; scripts/install-deps.sh installs it): %v", err)
		}
		tb.Skipf("PostgreSQL not installed (apt-get install postgresql): %v", err)
	}
	cred, err := credential()
	if err != nil {
		tb.Fatal(err)
	}
	// Not tb.TempDir: its parents are the test's own, closed to the user
	// the server runs as.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	// The port is picked free and then handed to postgres, so another
	// process may take it in between: try a few times.
	var lastErr error
	for range 3 {
		addr, pid, err := start(tb, bin, dir, cred)
		if err == nil {
			return &Cluster{Addr: addr, pid: pid}
		}
		lastErr = err
	}
	tb.Fatalf("start postgres: %v", lastErr)
	return nil
}

// findBin returns the directory of the newest initdb and postgres: Debian
// keeps them out of PATH, in /usr/lib/postgresql/VERSION/bin.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("no initdb and postgres in /usr/lib/postgresql/*/bin or on PATH")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// credential is who the server runs as: nil (the caller) unless that is
// root; then the postgres user the Debian package creates, else nobody.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
		}
	}
	return nil, errors.New("running as root, and neither user postgres nor nobody exists to run postgres as")
}

func start(tb testing.TB, bin, dir string, cred *syscall.Credential) (string, int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logPath := filepath.Join(dir, "postgres-"+strconv.Itoa(port)+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return "", 0, err
	}
	defer logf.Close()
	// No Unix socket (only loopback TCP); fsync off: the tests kill the
	// tracker, never the server, so what was committed is on the server.
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", "", "-c", "fsync=off", "-c", "max_connections=50")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, dir
	if err := cmd.Start(); err != nil {
		return "", 0, fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		// SIGINT is the fast shutdown: connections are ended, no checkpoint
		// wait for clients.
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 400 && time.Now().Before(deadline); i++ {
		select {
		case err := <-exited:
			exited <- err
			log, _ := os.ReadFile(logPath)
			return "", 0, fmt.Errorf("postgres on port %d exited: %v\n%s", port, err, log)
		default:
		}
		if ping(url(addr, "postgres")) == nil {
			tb.Cleanup(stop)
			return addr, cmd.Process.Pid, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	log, _ := os.ReadFile(logPath)
	return "", 0, fmt.Errorf("postgres on port %d did not answer within 20 s\n%s", port, log)
}

func url(addr, db string) string {
	return "postgres://postgres@" + addr + "/" + db + "?sslmode=disable"
}

func ping(u string) error {
	db, err := sql.Open("pgx", u)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// NewDB creates an empty database in the cluster and returns its URL
// (postgres://postgres@127.0.0.1:PORT/NAME?sslmode=disable).
func (c *Cluster) NewDB(tb testing.TB) string {
	tb.Helper()
	name := "db" + strconv.FormatInt(c.dbs.Add(1), 10)
	db, err := sql.Open("pgx", url(c.Addr, "postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	return url(c.Addr, name)
}

// CPU returns the CPU time the server's processes (the postmaster and its
// children: backends, writers) have used so far, for benchmarks; 0 if
// /proc cannot tell.
func (c *Cluster) CPU() time.Duration {
	pids := []string{strconv.Itoa(c.pid)}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", c.pid, c.pid)); err == nil {
		pids = append(pids, strings.Fields(string(b))...)
	}
	var ticks int64
	for _, p := range pids {
		b, err := os.ReadFile("/proc/" + p + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses: utime
		// and stime are the 12th and 13th.
		_, rest, _ := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ
}
