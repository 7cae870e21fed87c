package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"swarm/internal/humanize"
	"swarm/metainfo"
)

func runInfo(ctx context.Context, e *env, args []string) error {
	var asJSON bool
	var lo logOptions
	fs := newFlagSet("info")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	lo.register(fs)
	if err := parseFlags(fs, helpFor("info"), args, e); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one FILE.torrent or MAGNET, got %d arguments", fs.NArg())
	}
	if _, err := lo.logger(e.stderr); err != nil {
		return err
	}
	arg := fs.Arg(0)
	if strings.HasPrefix(arg, "magnet:") {
		m, err := metainfo.ParseMagnet(arg)
		if err != nil {
			return err
		}
		if asJSON {
			return writeJSON(e.stdout, m.Summary())
		}
		writeMagnetText(e.stdout, m)
		return nil
	}
	m, err := metainfo.Load(arg)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, m.Summary())
	}
	writeTorrentText(e.stdout, m)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeTorrentText(w io.Writer, m *metainfo.MetaInfo) {
	in := &m.Info
	row := func(k, v string) { fmt.Fprintf(w, "%-14s %s\n", k+":", v) }
	row("name", in.Name)
	row("info hash", m.InfoHash.String())
	if padding := in.Padding(); padding > 0 {
		row("size", fmt.Sprintf("%s (%d bytes, plus %d bytes of padding)", humanize.Size(in.Length-padding), in.Length-padding, padding))
	} else {
		row("size", fmt.Sprintf("%s (%d bytes)", humanize.Size(in.Length), in.Length))
	}
	row("pieces", fmt.Sprintf("%d x %s", in.NumPieces(), humanize.Size(in.PieceLength)))
	private := "no"
	if in.Private {
		private = "yes (peers from trackers only)"
	}
	row("private", private)
	if in.Hybrid {
		row("format", "hybrid v1+v2 (read as v1)")
	}
	optional := func(k, v string) {
		if v != "" {
			row(k, v)
		}
	}
	optional("source", in.Source)
	optional("comment", m.Comment)
	optional("created by", m.CreatedBy)
	if !m.CreationDate.IsZero() {
		row("created", m.CreationDate.Format(time.RFC3339))
	}
	tiers := m.Tiers()
	if len(tiers) == 0 {
		row("trackers", "none")
	} else {
		fmt.Fprintln(w, "trackers:")
		for i, tier := range tiers {
			fmt.Fprintf(w, "  tier %d: %s\n", i+1, strings.Join(tier, ", "))
		}
	}
	if len(m.URLList) > 0 {
		fmt.Fprintln(w, "web seeds:")
		for _, u := range m.URLList {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
	if magnet := m.ShareableMagnet(); magnet != "" {
		row("magnet", magnet)
	} else {
		fmt.Fprintln(w, noMagnet)
	}
	n := 0
	for _, f := range in.Files {
		if !f.Padding {
			n++
		}
	}
	fmt.Fprintf(w, "files (%d):\n", n)
	t := in.Tree()
	if !in.MultiFile {
		fmt.Fprintf(w, "  %s (%s)\n", t.Name, humanize.Size(t.Size))
		return
	}
	fmt.Fprintf(w, "  %s/ (%s)\n", t.Name, humanize.Size(t.Size))
	writeTree(w, t, "  ")
}

func writeMagnetText(w io.Writer, m metainfo.Magnet) {
	row := func(k, v string) { fmt.Fprintf(w, "%-14s %s\n", k+":", v) }
	name := m.Name
	if name == "" {
		name = "(not given)"
	}
	row("name", name)
	row("info hash", m.InfoHash.String())
	if len(m.Trackers) == 0 {
		row("trackers", "none")
	} else {
		fmt.Fprintln(w, "trackers:")
		for _, t := range m.Trackers {
			fmt.Fprintf(w, "  %s\n", t)
		}
	}
	for _, ws := range m.WebSeeds {
		row("web seed", ws)
	}
	for _, p := range m.Peers {
		row("peer", p)
	}
	row("magnet", m.String())
	fmt.Fprintln(w, "(size and files come from peers: the link holds no metadata)")
}

// writeTree draws t's children below prefix; folders show their total.
func writeTree(w io.Writer, t *metainfo.Tree, prefix string) {
	for i, c := range t.Children {
		branch, next := "├── ", "│   "
		if i == len(t.Children)-1 {
			branch, next = "└── ", "    "
		}
		suffix := ""
		if len(c.Children) > 0 {
			suffix = "/"
		}
		fmt.Fprintf(w, "%s%s%s%s (%s)\n", prefix, branch, c.Name, suffix, humanize.Size(c.Size))
		writeTree(w, c, prefix+next)
	}
}
