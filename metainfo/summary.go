package metainfo

import (
	"sort"
	"time"
)

// Summary is what a torrent or a magnet link says about its content, as
// front ends show it (swarm info --json, a daemon's file list): plain
// values whose JSON names are stable. Lists are never nil (JSON "[]").
type Summary struct {
	Name         string        `json:"name"`
	InfoHash     string        `json:"info_hash"`
	Length       int64         `json:"length,omitempty"` // with padding files
	PieceLength  int64         `json:"piece_length,omitempty"`
	Pieces       int           `json:"pieces,omitempty"`
	Private      bool          `json:"private"`
	Hybrid       bool          `json:"hybrid,omitempty"`
	Source       string        `json:"source,omitempty"`
	Comment      string        `json:"comment,omitempty"`
	CreatedBy    string        `json:"created_by,omitempty"`
	CreationDate string        `json:"creation_date,omitempty"` // RFC 3339
	Trackers     [][]string    `json:"trackers"`                // tiers; a magnet's trackers are one a tier
	WebSeeds     []string      `json:"web_seeds"`
	Peers        []string      `json:"peers,omitempty"` // a magnet's x.pe
	Files        []FileSummary `json:"files"`
	Magnet       string        `json:"magnet"` // "" for a private torrent (ShareableMagnet)
}

// FileSummary is one file of a Summary.
type FileSummary struct {
	Path    string `json:"path"` // DisplayPath
	Length  int64  `json:"length"`
	Padding bool   `json:"padding,omitempty"` // a BEP 47 pad file
}

// Summary returns m's summary.
func (m *MetaInfo) Summary() Summary {
	s := Summary{
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
		Files:       []FileSummary{},
		Magnet:      m.ShareableMagnet(),
	}
	if !m.CreationDate.IsZero() {
		s.CreationDate = m.CreationDate.Format(time.RFC3339)
	}
	for _, f := range m.Info.Files {
		s.Files = append(s.Files, FileSummary{Path: f.DisplayPath(), Length: f.Length, Padding: f.Padding})
	}
	if s.Trackers == nil {
		s.Trackers = [][]string{}
	}
	if s.WebSeeds == nil {
		s.WebSeeds = []string{}
	}
	return s
}

// Summary returns what the link says: no sizes or files, which come with
// the info dict.
func (mg Magnet) Summary() Summary {
	s := Summary{Name: mg.Name, InfoHash: mg.InfoHash.String(), Trackers: [][]string{}, WebSeeds: mg.WebSeeds,
		Peers: mg.Peers, Files: []FileSummary{}, Magnet: mg.String()}
	for _, t := range mg.Trackers {
		s.Trackers = append(s.Trackers, []string{t})
	}
	if s.WebSeeds == nil {
		s.WebSeeds = []string{}
	}
	return s
}

// Padding is the bytes of BEP 47 pad files in the torrent, part of Length.
func (i *Info) Padding() int64 {
	var n int64
	for _, f := range i.Files {
		if f.Padding {
			n += f.Length
		}
	}
	return n
}

// Tree is a folder or a file of a torrent's content with its size (a
// folder's is its files' total); pad files are left out.
type Tree struct {
	Name     string
	Size     int64
	Children []*Tree // sorted by name; none for a file
}

// Tree returns the content as a tree whose root is the torrent's folder
// (or its one file).
func (i *Info) Tree() *Tree {
	root := &Tree{Name: i.Name}
	if !i.MultiFile {
		root.Size = i.Length
		return root
	}
	type node struct {
		t        *Tree
		children map[string]*node
	}
	top := &node{t: root, children: map[string]*node{}}
	for _, f := range i.Files {
		if f.Padding {
			continue
		}
		n := top
		n.t.Size += f.Length
		for _, c := range f.Path {
			child := n.children[c]
			if child == nil {
				child = &node{t: &Tree{Name: c}, children: map[string]*node{}}
				n.children[c] = child
				n.t.Children = append(n.t.Children, child.t)
			}
			child.t.Size += f.Length
			n = child
		}
	}
	var sortAll func(t *Tree)
	sortAll = func(t *Tree) {
		sort.Slice(t.Children, func(a, b int) bool { return t.Children[a].Name < t.Children[b].Name })
		for _, c := range t.Children {
			sortAll(c)
		}
	}
	sortAll(root)
	return root
}
