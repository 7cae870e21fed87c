package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
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
	return o.loggerFor(w, isTerminal(w))
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

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
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

// parseSize reads a byte count such as "262144", "256KiB", "256k", "1MiB",
// "16MB" (decimal), "1.5GiB".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
		"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q", s, unit)
	}
	v *= mult
	if v > 1<<62 {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return int64(v), nil
}

// formatSize renders bytes in binary units: "1.5 GiB", "300 B".
func formatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %ciB", int64(v), "KMGTP"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[exp])
}

// parseRate reads a rate in bytes per second: a size with an optional "/s",
// e.g. "1MiB/s" or "500KB".
func parseRate(s string) (int64, error) {
	return parseSize(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
}
