package proc_test

import (
	"os"
	"testing"
	"time"

	"swarm/bench/internal/proc"
)

func TestKillAllEndsEveryProcess(t *testing.T) {
	var g proc.Group
	ps := []*proc.Proc{g.Command("sleep", "60"), g.Command("sleep", "60")}
	for _, p := range ps {
		if err := p.Start(); err != nil {
			t.Skip(err)
		}
	}
	start := time.Now()
	g.KillAll()
	for i, p := range ps {
		if !p.Exited() {
			t.Errorf("process %d still running after KillAll", i)
		}
		if p.Err() == nil {
			t.Errorf("process %d: Err() = nil, want the kill", i)
		}
	}
	// Each Kill waits for the reaper; it must not wait out its 5 s bound.
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("KillAll took %v", d)
	}
}

func TestWaitReportsExitStatusAndTimeout(t *testing.T) {
	var g proc.Group
	p := g.Command("sh", "-c", "echo oops >&2; exit 3")
	if err := p.Start(); err != nil {
		t.Skip(err)
	}
	if err := p.Wait(10 * time.Second); err == nil {
		t.Error("Wait = nil for exit status 3")
	}
	if got := p.Stderr(); got != "oops\n" {
		t.Errorf("Stderr() = %q, want %q", got, "oops\n")
	}
	q := g.Command("sleep", "60")
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	defer q.Kill()
	if err := q.Wait(10 * time.Millisecond); err == nil {
		t.Error("Wait = nil for a process still running")
	}
}

func TestStateSeesStoppedProcess(t *testing.T) {
	var g proc.Group
	p := g.Command("sh", "-c", "kill -STOP $$")
	if err := p.Start(); err != nil {
		t.Skip(err)
	}
	defer p.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for proc.State(p.PID()) != 'T' {
		if time.Now().After(deadline) {
			t.Fatalf("State(%d) = %q, want 'T'", p.PID(), proc.State(p.PID()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProcReadersOnSelf(t *testing.T) {
	pid := os.Getpid()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if s, err := proc.CPUSeconds(pid); err != nil || s < 0 {
		t.Errorf("CPUSeconds(self) = %v, %v", s, err)
	}
	if kib, err := proc.StatusKiB(pid, "VmHWM"); err != nil || kib <= 0 {
		t.Errorf("StatusKiB(self, VmHWM) = %v, %v", kib, err)
	}
	if _, err := proc.StatusKiB(pid, "NoSuchField"); err == nil {
		t.Error("StatusKiB(self, NoSuchField) = nil error")
	}
	// The main thread may be running or sleeping while this one reads.
	if s := proc.State(pid); s != 'R' && s != 'S' {
		t.Errorf("State(self) = %q, want 'R' or 'S'", s)
	}
}
