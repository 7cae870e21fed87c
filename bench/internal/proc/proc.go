package proc

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Group is the set of processes a benchmark started and that are still
// running. The zero Group is ready to use.
type Group struct {
	mu sync.Mutex    // guards m
	m  map[int]*Proc // running processes by PID
}

// Command returns a process of the group running name with args, not yet
// started. Its stderr is kept (the last 4 KiB) for error messages; set
// Cmd.Stdout, Cmd.Dir and the like before Start.
func (g *Group) Command(name string, args ...string) *Proc {
	p := &Proc{Cmd: exec.Command(name, args...), group: g, done: make(chan struct{})}
	p.Cmd.Stderr = &p.stderr
	return p
}

// KillAll kills every running process of the group by its PID (SIGKILL) and
// waits, a bounded time, for each to be reaped.
func (g *Group) KillAll() {
	g.mu.Lock()
	ps := make([]*Proc, 0, len(g.m))
	for _, p := range g.m {
		ps = append(ps, p)
	}
	g.mu.Unlock()
	// Not under mu: a process leaves the group when reaped, which Kill waits for.
	for _, p := range ps {
		p.Kill()
	}
}

func (g *Group) add(p *Proc) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[int]*Proc{}
	}
	g.m[p.PID()] = p
}

func (g *Group) remove(p *Proc) {
	g.mu.Lock()
	delete(g.m, p.PID())
	g.mu.Unlock()
}

// Proc is one child process. Once started, one goroutine waits for it, so
// that Exited, Wait and Kill never block on each other.
type Proc struct {
	// Cmd is the command; set its fields before Start, read ProcessState
	// once Wait has returned nil or Exited is true.
	Cmd    *exec.Cmd
	group  *Group
	stderr tailBuffer
	done   chan struct{} // closed when Cmd.Wait has returned
	err    error         // Cmd.Wait's result, set before done is closed
}

// Start starts the process and adds it to its group until it is reaped.
func (p *Proc) Start() error {
	if err := p.Cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Cmd.Path, err)
	}
	p.group.add(p)
	go func() {
		p.err = p.Cmd.Wait()
		p.group.remove(p)
		close(p.done)
	}()
	return nil
}

// PID is the process ID; only valid after Start.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// StdoutLines returns the process's stdout, a line at a time; call it before
// Start. The channel holds 64 lines; lines that come while it is full are
// dropped, so that a process nobody listens to any more never blocks on its
// stdout. It is closed at the end of stdout.
func (p *Proc) StdoutLines() (<-chan string, error) {
	out, err := p.Cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case ch <- sc.Text():
			default:
			}
		}
	}()
	return ch, nil
}

// Exited reports whether the process has exited and been reaped.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended (nil for exit status 0), once Exited is
// true; nil before.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Wait waits up to timeout for the process to exit; an exit status other
// than 0 is an error, and so is the timeout (the process then still runs).
func (p *Proc) Wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		return fmt.Errorf("still running after %v", timeout)
	}
}

// Stop asks the process to end (SIGINT), and kills it if it has not within
// timeout or 15 s, whichever is shorter.
func (p *Proc) Stop(timeout time.Duration) {
	if p.Cmd.Process == nil || p.Exited() {
		return
	}
	p.Cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(min(timeout, 15*time.Second))
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	p.Kill()
}

// Kill kills the process by its PID (SIGKILL) and waits, at most 5 s, for
// it to be reaped. It does nothing if the process was never started or has
// exited.
func (p *Proc) Kill() {
	if p.Cmd.Process == nil || p.Exited() {
		return
	}
	p.Cmd.Process.Kill()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	}
}

// Stderr returns the last 4 KiB the process wrote to its stderr.
func (p *Proc) Stderr() string { return p.stderr.String() }

// tailBuffer keeps the last 4 KiB written to it: enough of a failing
// process's stderr to say why, without holding a chatty one's whole log.
type tailBuffer struct {
	mu sync.Mutex // guards b
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = append(t.b[:0], t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago, for
// a child to listen on. Another process may take the port before the child
// does; the benchmarks accept that small race.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
