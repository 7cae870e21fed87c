package dht

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"

	"swarm/internal/atomicfile"
)

// maxStateFile bounds the state file we read: 160 buckets of K nodes at
// under 100 bytes each.
const maxStateFile = 1 << 20

// state is what survives a restart: our id, so the nodes that know us
// still find us where they expect, and the routing table, so we rejoin
// without the bootstrap nodes.
type state struct {
	id    ID
	nodes []NodeInfo
}

type stateFile struct {
	ID    string   `json:"id"`
	Nodes []string `json:"nodes"` // "hexid@ip:port"
}

// loadState reads the state file; a missing file is no state.
func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dht: %w", err)
	}
	if len(b) > maxStateFile {
		return nil, fmt.Errorf("dht: state %s: %d bytes, more than a table holds", path, len(b))
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("dht: state %s: %w", path, err)
	}
	id, err := ParseID(f.ID)
	if err != nil {
		return nil, fmt.Errorf("dht: state %s: %w", path, err)
	}
	s := &state{id: id}
	for _, e := range f.Nodes {
		var ni NodeInfo
		if len(e) < 42 || e[40] != '@' {
			return nil, fmt.Errorf("dht: state %s: node %q: want HEXID@IP:PORT", path, e)
		}
		if ni.ID, err = ParseID(e[:40]); err == nil {
			ni.Addr, err = netip.ParseAddrPort(e[41:])
		}
		if err != nil {
			return nil, fmt.Errorf("dht: state %s: node %q: %w", path, e, err)
		}
		s.nodes = append(s.nodes, ni)
	}
	return s, nil
}

// save writes the id and routing table to Config.StatePath, through a
// temporary file so a crash never leaves half a state.
func (n *Node) save() error {
	if n.cfg.StatePath == "" {
		return nil
	}
	n.mu.Lock()
	nodes := n.table.nodes()
	n.mu.Unlock()
	f := stateFile{ID: n.id.String(), Nodes: []string{}}
	for _, ni := range nodes {
		f.Nodes = append(f.Nodes, ni.ID.String()+"@"+ni.Addr.String())
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(n.cfg.StatePath, append(b, '\n'), 0o600, false); err != nil {
		return fmt.Errorf("dht: save state: %w", err)
	}
	return nil
}
