package main

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"swarm/internal/progress"
)

// logOptions are the logging flags every command has.
type logOptions struct {
	level  string
	format string
}

func (o *logOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.level, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.format, "log-format", "auto", "log format: console, json, or auto (console on a terminal, else json)")
}

// logger builds the logger for a command; logs go to w (stderr).
func (o *logOptions) logger(w io.Writer) (zerolog.Logger, error) {
	return o.loggerFor(w, progress.IsTerminal(w))
}

// loggerFor builds a logger that writes to w, which leads to a terminal if
// terminal is true (w may wrap the terminal's file).
func (o *logOptions) loggerFor(w io.Writer, terminal bool) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(o.level)
	if err != nil || o.level == "" {
		return zerolog.Nop(), usagef("--log-level %q: want debug, info, warn or error", o.level)
	}
	format := o.format
	if format == "auto" {
		format = "json"
		if terminal {
			format = "console"
		}
	}
	switch format {
	case "json":
		return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
	case "console":
		cw := zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", NoColor: !terminal}
		return zerolog.New(cw).Level(lvl).With().Timestamp().Logger(), nil
	}
	return zerolog.Nop(), usagef("--log-format %q: want console, json or auto", o.format)
}

// newFlagSet makes a flag set that reports errors instead of printing them.
func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard) // parse errors are reported once, by run
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args; --help prints help and the flags to stdout.
func parseFlags(fs *pflag.FlagSet, help string, args []string, e *env) error {
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprint(e.stdout, helpText(fs, help))
		return errHelp
	}
	if err != nil {
		return usagef("%v", err)
	}
	return nil
}

func helpText(fs *pflag.FlagSet, help string) string {
	return strings.TrimLeft(help, "\n") + "\nFlags:\n" + fs.FlagUsages()
}

// The help texts are files in help/, so that they read and diff as the
// prose they are; testdata/help-*.golden holds each command's whole --help
// output (text and flags), which TestHelpMatchesGolden compares.
//
//go:embed help/*.txt
var helpFiles embed.FS

// helpFor is the help text of a command, help/NAME.txt.
func helpFor(name string) string {
	b, err := helpFiles.ReadFile("help/" + name + ".txt")
	if err != nil {
		return "(no help for " + name + ")" // a file missing from help/: the help goldens catch it
	}
	return string(b)
}
