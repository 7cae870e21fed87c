package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"swarm/daemon/rpc"
	"swarm/internal/humanize"
	"swarm/metainfo"
)

// The commands that drive a running daemon over its RPC: add, list, pause,
// resume, remove, verify. Each is flags → one or two RPC calls → output.

// remoteOptions are the flags every client command has.
type remoteOptions struct {
	addr, user, password string
	json                 bool
}

func (o *remoteOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.addr, "rpc", defaultRPC, "address of the daemon's RPC")
	fs.StringVar(&o.user, "rpc-user", "", "user name for the daemon's RPC")
	fs.StringVar(&o.password, "rpc-password", "", "password for the daemon's RPC (default $SWARM_RPC_PASSWORD)")
	fs.BoolVar(&o.json, "json", false, "print the daemon's answer as JSON")
}

func (o *remoteOptions) client() *rpc.Client {
	if o.password == "" {
		o.password = os.Getenv("SWARM_RPC_PASSWORD")
	}
	return &rpc.Client{Addr: o.addr, User: o.user, Password: o.password}
}

// printJSON writes v as one line of JSON.
func printJSON(e *env, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s\n", b)
	return nil
}

func runAdd(ctx context.Context, e *env, args []string) error {
	var o remoteOptions
	var dir string
	var paused bool
	fs := newFlagSet("add")
	fs.StringVarP(&dir, "output", "o", "", "download folder on the daemon's machine (default: the daemon's)")
	fs.BoolVar(&paused, "paused", false, "add without starting")
	o.register(fs)
	if err := parseFlags(fs, helpFor("add"), args, e); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("want at least one FILE.torrent, URL or magnet link")
	}
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		dir = abs
	}
	c := o.client()
	for _, arg := range fs.Args() {
		a := map[string]any{"paused": paused}
		if dir != "" {
			a["download-dir"] = dir
		}
		switch {
		case isMagnet(arg) || strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://"):
			a["filename"] = arg
		default:
			if _, err := metainfo.Load(arg); err != nil {
				return err
			}
			b, err := os.ReadFile(arg)
			if err != nil {
				return err
			}
			a["metainfo"] = base64.StdEncoding.EncodeToString(b)
		}
		var out map[string]struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
			Hash string `json:"hashString"`
		}
		if err := c.Call(ctx, "torrent-add", a, &out); err != nil {
			return err
		}
		if o.json {
			if err := printJSON(e, out); err != nil {
				return err
			}
			continue
		}
		for key, t := range out {
			what := "added"
			if key == "torrent-duplicate" {
				what = "already there"
			}
			fmt.Fprintf(e.stdout, "%s: id %d, %s (%s)\n", what, t.ID, t.Name, t.Hash)
		}
	}
	return nil
}

// listFields are what list asks for.
var listFields = []string{"id", "name", "percentDone", "sizeWhenDone", "rateDownload", "rateUpload", "uploadRatio", "status", "error", "errorString", "hashString"}

type listed struct {
	ID          int     `json:"id"`
	Name        string  `json:"name"`
	PercentDone float64 `json:"percentDone"`
	Size        int64   `json:"sizeWhenDone"`
	Down        int64   `json:"rateDownload"`
	Up          int64   `json:"rateUpload"`
	Ratio       float64 `json:"uploadRatio"`
	Status      int     `json:"status"`
	Error       int     `json:"error"`
	ErrorString string  `json:"errorString"`
	Hash        string  `json:"hashString"`
}

func runList(ctx context.Context, e *env, args []string) error {
	var o remoteOptions
	fs := newFlagSet("list")
	o.register(fs)
	if err := parseFlags(fs, helpFor("list"), args, e); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("list takes no arguments")
	}
	var out struct {
		Torrents []listed `json:"torrents"`
	}
	if err := o.client().Call(ctx, "torrent-get", map[string]any{"fields": listFields}, &out); err != nil {
		return err
	}
	if o.json {
		return printJSON(e, out.Torrents)
	}
	fmt.Fprint(e.stdout, listTable(out.Torrents))
	return nil
}

// listTable formats torrents in 80 columns: the name takes what is left.
func listTable(ts []listed) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%4s %5s %7s %7s %7s %5s %-11s %s\n", "ID", "Done", "Size", "Down/s", "Up/s", "Ratio", "Status", "Name")
	for _, t := range ts {
		ratio := "-"
		if t.Ratio >= 0 {
			ratio = strconv.FormatFloat(t.Ratio, 'f', 2, 64)
		}
		name := []rune(t.Name)
		if len(name) > nameWidth {
			name = append(name[:nameWidth-1], '…')
		}
		fmt.Fprintf(&b, "%4d %4.0f%% %7s %7s %7s %5s %-11s %s\n", t.ID, math.Floor(100*t.PercentDone), humanize.ShortSize(t.Size),
			humanize.ShortSize(t.Down), humanize.ShortSize(t.Up), ratio, statusName(t.Status, t.Error), string(name))
	}
	for _, t := range ts {
		if t.ErrorString != "" {
			fmt.Fprintf(&b, "%4d: %s\n", t.ID, t.ErrorString)
		}
	}
	return b.String()
}

// nameWidth is what 80 columns leave for the name.
const nameWidth = 80 - 53

// statusName names a Transmission status code for the table.
func statusName(status, errCode int) string {
	if errCode == 3 {
		return "Error"
	}
	names := []string{"Stopped", "Check wait", "Checking", "Queued", "Downloading", "Seed wait", "Seeding"}
	if status >= 0 && status < len(names) {
		return names[status]
	}
	return "?"
}

func runPause(ctx context.Context, e *env, args []string) error {
	return idsCommand(ctx, e, args, "pause", "torrent-stop", "Stop torrents of a running daemon; they keep their data and resume record.", nil)
}

func runResume(ctx context.Context, e *env, args []string) error {
	return idsCommand(ctx, e, args, "resume", "torrent-start", "Start paused torrents of a running daemon (in their queue order).", nil)
}

func runVerify(ctx context.Context, e *env, args []string) error {
	return idsCommand(ctx, e, args, "verify", "torrent-verify", "Check the data of torrents of a running daemon again, ignoring their resume records.", nil)
}

func runRemove(ctx context.Context, e *env, args []string) error {
	var del bool
	return idsCommand(ctx, e, args, "remove", "torrent-remove", "Remove torrents from a running daemon; --delete-data deletes their files too.",
		func(fs *pflag.FlagSet, a map[string]any) {
			if fs != nil {
				fs.BoolVar(&del, "delete-data", false, "delete the downloaded files too")
				return
			}
			a["delete-local-data"] = del
		})
}

// idsCommand runs method on the ids given; extra adds flags (fs set) and
// then arguments (fs nil).
func idsCommand(ctx context.Context, e *env, args []string, name, method, summary string, extra func(*pflag.FlagSet, map[string]any)) error {
	var o remoteOptions
	fs := newFlagSet(name)
	if extra != nil {
		extra(fs, nil)
	}
	o.register(fs)
	if err := parseFlags(fs, fmt.Sprintf(helpFor("ids"), name, summary), args, e); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("want at least one ID, info hash, or all")
	}
	a := map[string]any{}
	var ids []any
	for _, s := range fs.Args() {
		if s == "all" {
			ids = nil
			break
		}
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			ids = append(ids, n)
		} else if _, err := metainfo.ParseHash(s); err == nil {
			ids = append(ids, strings.ToLower(s))
		} else {
			return usagef("%q: want a torrent id (a number), an info hash or all", s)
		}
	}
	if ids != nil {
		a["ids"] = ids
	}
	if extra != nil {
		extra(nil, a)
	}
	if err := o.client().Call(ctx, method, a, nil); err != nil {
		return err
	}
	if o.json {
		return printJSON(e, map[string]string{"result": "success"})
	}
	fmt.Fprintf(e.stdout, "%s: done\n", name)
	return nil
}
