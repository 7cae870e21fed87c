package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"swarm/daemon/rpc"
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
		out, err := c.Add(ctx, arg, dir, paused)
		if err != nil {
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
	ts, err := o.client().List(ctx)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e, ts)
	}
	rpc.WriteList(e.stdout, ts)
	return nil
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
	ids, err := rpc.ParseIDs(fs.Args())
	if err != nil {
		return usagef("%v", err)
	}
	a := map[string]any{}
	if extra != nil {
		extra(nil, a)
	}
	done, err := o.client().Act(ctx, method, ids, a)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e, map[string]string{"result": "success"})
	}
	// verify only starts the check: say so rather than "verified".
	did := map[string]string{"pause": "paused", "resume": "resumed", "verify": "verifying", "remove": "removed"}[name]
	for _, t := range done {
		fmt.Fprintf(e.stdout, "%s: id %d, %s\n", did, t.ID, t.Name)
	}
	if len(done) == 0 {
		fmt.Fprintln(e.stdout, "the daemon has no torrents")
	}
	return nil
}
