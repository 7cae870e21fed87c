package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"swarm/metainfo"
)

const infoHelp = `
Usage: swarm info FILE.torrent|MAGNET [flags]

Show what a torrent holds: name, size, pieces, files as a tree, trackers by
tier, web seeds, the private flag, the info hash and a magnet link. Given a
magnet link, show what the link itself says.

Examples:
  swarm info album.torrent
  swarm info album.torrent --json | jq .info_hash
  swarm info 'magnet:?xt=urn:btih:...&dn=album'
`

func runInfo(ctx context.Context, e *env, args []string) error {
	var asJSON bool
	var lo logOptions
	fs := newFlagSet("info")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	lo.register(fs)
	if err := parseFlags(fs, infoHelp, args, e); err != nil {
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
			return writeJSON(e.stdout, magnetJSON(m))
		}
		writeMagnetText(e.stdout, m)
		return nil
	}
	m, err := metainfo.Load(arg)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, torrentJSON(m))
	}
	writeTorrentText(e.stdout, m)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// infoJSON is the --json form of swarm info; field names are stable.
type infoJSON struct {
	Name         string     `json:"name"`
	InfoHash     string     `json:"info_hash"`
	Length       int64      `json:"length,omitempty"`
	PieceLength  int64      `json:"piece_length,omitempty"`
	Pieces       int        `json:"pieces,omitempty"`
	Private      bool       `json:"private"`
	Hybrid       bool       `json:"hybrid,omitempty"`
	Source       string     `json:"source,omitempty"`
	Comment      string     `json:"comment,omitempty"`
	CreatedBy    string     `json:"created_by,omitempty"`
	CreationDate string     `json:"creation_date,omitempty"`
	Trackers     [][]string `json:"trackers"`
	WebSeeds     []string   `json:"web_seeds"`
	Peers        []string   `json:"peers,omitempty"`
	Files        []fileJSON `json:"files"`
	Magnet       string     `json:"magnet"`
}

type fileJSON struct {
	Path    string `json:"path"`
	Length  int64  `json:"length"`
	Padding bool   `json:"padding,omitempty"`
}

func torrentJSON(m *metainfo.MetaInfo) infoJSON {
	j := infoJSON{
		Name:        m.Info.Name,
		InfoHash:    m.InfoHash.String(),
		Length:      m.Info.Length,
		PieceLength: m.Info.PieceLength,
		Pieces:      m.Info.NumPieces(),
		Private:     m.Info.Private,
		Hybrid:      m.Info.Hybrid,
		Source:      m.Info.Source,
		Comment:     m.Comment,
		CreatedBy:   m.CreatedBy,
		Trackers:    m.Tiers(),
		WebSeeds:    m.URLList,
		Files:       []fileJSON{},
		Magnet:      m.ShareableMagnet(), // "" for a private torrent
	}
	if !m.CreationDate.IsZero() {
		j.CreationDate = m.CreationDate.Format(time.RFC3339)
	}
	for _, f := range m.Info.Files {
		j.Files = append(j.Files, fileJSON{Path: f.DisplayPath(), Length: f.Length, Padding: f.Padding})
	}
	if j.Trackers == nil {
		j.Trackers = [][]string{}
	}
	if j.WebSeeds == nil {
		j.WebSeeds = []string{}
	}
	return j
}

func magnetJSON(m metainfo.Magnet) infoJSON {
	j := infoJSON{Name: m.Name, InfoHash: m.InfoHash.String(), Trackers: [][]string{}, WebSeeds: m.WebSeeds,
		Peers: m.Peers, Files: []fileJSON{}, Magnet: m.String()}
	for _, t := range m.Trackers {
		j.Trackers = append(j.Trackers, []string{t})
	}
	if j.WebSeeds == nil {
		j.WebSeeds = []string{}
	}
	return j
}

func writeTorrentText(w io.Writer, m *metainfo.MetaInfo) {
	in := &m.Info
	row := func(k, v string) { fmt.Fprintf(w, "%-14s %s\n", k+":", v) }
	row("name", in.Name)
	row("info hash", m.InfoHash.String())
	var padding int64
	for _, f := range in.Files {
		if f.Padding {
			padding += f.Length
		}
	}
	if padding > 0 {
		row("size", fmt.Sprintf("%s (%d bytes, plus %d bytes of padding)", formatSize(in.Length-padding), in.Length-padding, padding))
	} else {
		row("size", fmt.Sprintf("%s (%d bytes)", formatSize(in.Length), in.Length))
	}
	row("pieces", fmt.Sprintf("%d x %s", in.NumPieces(), formatSize(in.PieceLength)))
	private := "no"
	if in.Private {
		private = "yes (peers from trackers only)"
	}
	row("private", private)
	if in.Hybrid {
		row("format", "hybrid v1+v2 (read as v1)")
	}
	if in.Source != "" {
		row("source", in.Source)
	}
	if m.Comment != "" {
		row("comment", m.Comment)
	}
	if m.CreatedBy != "" {
		row("created by", m.CreatedBy)
	}
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
	writeTree(w, in)
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

// treeNode is a folder or file in the display tree.
type treeNode struct {
	name     string
	size     int64
	children map[string]*treeNode
}

// writeTree draws the files as a tree with sizes; folders show their total.
func writeTree(w io.Writer, in *metainfo.Info) {
	if !in.MultiFile {
		fmt.Fprintf(w, "  %s (%s)\n", in.Name, formatSize(in.Length))
		return
	}
	root := &treeNode{name: in.Name, children: map[string]*treeNode{}}
	for _, f := range in.Files {
		if f.Padding {
			continue
		}
		n := root
		n.size += f.Length
		for _, c := range f.Path {
			child := n.children[c]
			if child == nil {
				child = &treeNode{name: c, children: map[string]*treeNode{}}
				n.children[c] = child
			}
			child.size += f.Length
			n = child
		}
	}
	fmt.Fprintf(w, "  %s/ (%s)\n", root.name, formatSize(root.size))
	drawChildren(w, root, "  ")
}

func drawChildren(w io.Writer, n *treeNode, prefix string) {
	names := make([]string, 0, len(n.children))
	for k := range n.children {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, k := range names {
		c := n.children[k]
		branch, next := "├── ", "│   "
		if i == len(names)-1 {
			branch, next = "└── ", "    "
		}
		suffix := ""
		if len(c.children) > 0 {
			suffix = "/"
		}
		fmt.Fprintf(w, "%s%s%s%s (%s)\n", prefix, branch, c.name, suffix, formatSize(c.size))
		drawChildren(w, c, prefix+next)
	}
}
