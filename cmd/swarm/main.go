// Command swarm is a BitTorrent client and tracker in one binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The first SIGINT or SIGTERM starts a clean shutdown, with the signal
	// as ctx's cause (it decides get's exit status); a second one exits at
	// once (verified pieces are on disk; only the resume record may lag,
	// and the next start checks the data instead).
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		cancel(signalled{(<-sigs).(syscall.Signal)})
		sig := (<-sigs).(syscall.Signal)
		fmt.Fprintln(os.Stderr, "\nswarm: interrupted again: exiting now")
		os.Exit(128 + int(sig))
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(exitCode(err))
}

// signalled is the cause of main's context when a signal stopped swarm.
type signalled struct{ sig syscall.Signal }

func (s signalled) Error() string { return s.sig.String() }

// interruptedError is what get returns when it was stopped (Ctrl-C,
// SIGTERM, or its context ended otherwise) before the download completed.
type interruptedError struct {
	cause error // context.Cause of the stopped context
	msg   string
}

func (e *interruptedError) Error() string { return e.msg }

// code is the conventional status of a process ended by the signal:
// 128 + its number (130 for SIGINT, 143 for SIGTERM); 130 without one.
func (e *interruptedError) code() int {
	var s signalled
	if errors.As(e.cause, &s) {
		return 128 + int(s.sig)
	}
	return 128 + int(syscall.SIGINT)
}

// interrupted returns get's error for ctx ending before the download
// completed, whatever err the interrupted step returned (ctx must be done).
func interrupted(ctx context.Context, format string, args ...any) error {
	return &interruptedError{cause: context.Cause(ctx), msg: fmt.Sprintf(format, args...)}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// usageError marks a mistake in how swarm was called (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// errHelp reports that help was printed on request (exit status 0).
var errHelp = errors.New("help requested")

// exitCode maps run's result to the process status: 0 ok, 1 failure, 2
// usage, 130/143 get interrupted by SIGINT/SIGTERM.
func exitCode(err error) int {
	var ue *usageError
	var ie *interruptedError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &ie):
		return ie.code()
	default:
		return 1
	}
}

// command is one subcommand of swarm.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env carries what every subcommand writes to.
type env struct {
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		{"create", "make a .torrent from a file or folder", runCreate},
		{"info", "show what a .torrent file or magnet link holds", runInfo},
		{"seed", "seed a file, folder or .torrent until Ctrl-C", runSeed},
		{"get", "download a torrent, verify it, and exit when complete", runGet},
		{"daemon", "run many torrents as a service, driven over the Transmission RPC", runDaemon},
		{"add", "add a torrent file, URL or magnet link to a running daemon", runAdd},
		{"list", "list a daemon's torrents", runList},
		{"pause", "pause torrents of a daemon", runPause},
		{"resume", "resume paused torrents of a daemon", runResume},
		{"remove", "remove torrents from a daemon", runRemove},
		{"verify", "check a daemon's torrents' data again", runVerify},
		{"tracker", "run a BitTorrent tracker: HTTP, and UDP with --udp", runTracker},
		{"lab", "measure a whole swarm on 127.0.0.1 against the theoretical bound", runLab},
		{"demo", "watch a seed and leechers share a file on 127.0.0.1 (no set-up needed)", runDemo},
	}
}

func printMainUsage(w io.Writer) {
	var list string
	for _, c := range commands() {
		list += fmt.Sprintf("  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, helpFor("main"), list)
}

// run is swarm's whole command line: it returns the error that decides the
// exit status, having already reported it on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	e := &env{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		printMainUsage(stderr)
		return usagef("no command given")
	}
	switch args[0] {
	case "-h", "--help":
		printMainUsage(stdout)
		return nil
	case "--version", "version":
		fmt.Fprintf(stdout, "swarm %s\n", version)
		return nil
	case "help":
		if len(args) == 1 {
			printMainUsage(stdout)
			return nil
		}
		args = []string{args[1], "--help"}
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			var ue *usageError
			switch {
			case err == nil, errors.Is(err, errHelp):
			case errors.As(err, &ue):
				fmt.Fprintf(stderr, "swarm %s: %v\nRun 'swarm %s --help' for usage.\n", c.name, err, c.name)
			default:
				fmt.Fprintf(stderr, "swarm %s: %v\n", c.name, err)
			}
			return err
		}
	}
	printMainUsage(stderr)
	fmt.Fprintf(stderr, "\nswarm: unknown command %q\n", args[0])
	return usagef("unknown command %q", args[0])
}
