//go:build linux

package session_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"swarm/peer"
	"swarm/session"
)

const emfileChildEnv = "SWARM_TEST_EMFILE_CHILD"

// TestAcceptRecoversFromEMFILE (issue 13) runs a seed in a child process
// (this test binary again) that lowers its own RLIMIT_NOFILE to 128 and
// then opens /dev/null until the descriptor table is full, as files or
// other sockets might fill it. Five peers connect meanwhile: the kernel
// queues them, and every Accept fails with EMFILE. When the child closes
// the files, the session accepts and handshakes all five within its
// back-off (at most 1 s), and it logged one warning for the whole burst.
// The rlimit of the process running the other tests is never touched.
func TestAcceptRecoversFromEMFILE(t *testing.T) {
	if os.Getenv(emfileChildEnv) == "1" {
		emfileChild(t)
		return
	}
	checkGoroutines(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptRecoversFromEMFILE$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var childOut strings.Builder
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	defer func() {
		stdin.Close()
		for l := range lines { // until the child exits
			childOut.WriteString(l + "\n")
		}
		if err := cmd.Wait(); err != nil || t.Failed() {
			t.Errorf("child: %v\n%s%s", err, childOut.String(), stderr.String())
		}
	}()
	// expect waits for a line of the child starting with prefix.
	expect := func(prefix string) string {
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child ended before %q", prefix)
				}
				childOut.WriteString(l + "\n")
				if rest, ok := strings.CutPrefix(l, prefix); ok {
					return rest
				}
			case <-timeout:
				t.Fatalf("child printed no %q within 30 s", prefix)
			}
		}
	}
	fields := strings.Fields(expect("SEEDING "))
	addr, ih := fields[0], fields[1]
	b, err := hex.DecodeString(ih)
	if err != nil || len(b) != 20 {
		t.Fatalf("child printed info hash %q", ih)
	}
	hash := [20]byte(b)
	expect("FULL")
	var conns []net.Conn
	for range 5 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connect while the seed's descriptors are full: %v", err)
		}
		defer c.Close()
		var id [20]byte
		copy(id[:], fmt.Sprintf("-XX0000-emfile%06d", len(conns)))
		if _, err := c.Write(peer.AppendHandshake(nil, peer.NewHandshake(hash, id))); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	time.Sleep(2 * time.Second) // Accept fails about 9 times meanwhile
	io.WriteString(stdin, "FREE\n")
	expect("FREED")
	freed := time.Now()
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := peer.ReadHandshake(c); err != nil {
			t.Fatalf("peer %d got no handshake after the descriptors were freed: %v", i+1, err)
		}
	}
	t.Logf("all 5 peers queued during EMFILE handshaken %v after the descriptors were freed", time.Since(freed).Round(time.Millisecond))
	io.WriteString(stdin, "DONE\n")
}

// emfileChild is the child's side of TestAcceptRecoversFromEMFILE.
func emfileChild(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = min(128, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	m, content := makeTorrent(t, 64<<10, 16<<10)
	var logs logBuffer
	s := loggedSession(t, session.Config{}, &logs)
	seed, err := s.NewTorrent(m, session.TorrentConfig{Store: &memStore{data: bytes.Clone(content)}, Have: fullBitfield(m.Info.NumPieces()), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	s.AddTorrent(seed)
	runSession(t, s)
	in := bufio.NewScanner(os.Stdin)
	fmt.Printf("SEEDING %s %s\n", s.Addr(), m.InfoHash)
	var held []*os.File
	for len(held) < 1000 {
		f, err := os.Open(os.DevNull)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, f)
	}
	fmt.Println("FULL")
	in.Scan() // FREE
	for _, f := range held {
		f.Close()
	}
	fmt.Println("FREED")
	in.Scan() // DONE
	failed, again := logs.grep("accept failed"), logs.grep("accepting again")
	t.Logf("held %d descriptors; logged:\n%s\n%s", len(held), failed, again)
	if strings.Count(failed, "\n") != 0 || !strings.Contains(failed, "too many open files") {
		t.Errorf("want one warning naming EMFILE for the burst, got:\n%s", failed)
	}
	if strings.Count(again, "\n") != 0 || again == "" {
		t.Errorf("want one line for accepting again, got:\n%s", again)
	}
}
