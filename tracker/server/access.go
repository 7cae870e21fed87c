package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"swarm/metainfo"
)

// HashList is a set of info hashes: an allow list or a deny list
// (opentracker's whitelist and blacklist). A nil *HashList is empty.
type HashList struct {
	set map[metainfo.Hash]struct{}
}

// ParseHashList reads info hashes, 40 hex characters a line, as
// opentracker's list files hold them. '#' starts a comment, on a line of
// its own or after a hash; blank lines are skipped; any other line that is
// not a hex info hash is an error naming the line.
func ParseHashList(r io.Reader) (*HashList, error) {
	l := &HashList{set: map[metainfo.Hash]struct{}{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#") // a comment, alone or after the hash
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		h, err := metainfo.ParseHash(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		l.set[h] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read info hash list: %w", err)
	}
	return l, nil
}

// Len is the number of info hashes in l.
func (l *HashList) Len() int {
	if l == nil {
		return 0
	}
	return len(l.set)
}

// Contains reports whether h is in l.
func (l *HashList) Contains(h metainfo.Hash) bool {
	if l == nil {
		return false
	}
	_, ok := l.set[h]
	return ok
}

// access is the allow and deny lists in force, replaced whole.
type access struct {
	allow, deny *HashList // allow nil: every info hash not denied
}

// Failure reasons for info hashes the lists refuse.
var (
	errNotAllowed = &refusal{label: "not_allowed", reason: "this tracker does not track this torrent (not on its allow list)"}
	errDenied     = &refusal{label: "denied", reason: "this tracker does not track this torrent (on its deny list)"}
)

// check returns the refusal for h, or nil if the lists let it through.
func (a *access) check(h metainfo.Hash) *refusal {
	switch {
	case a.deny.Contains(h):
		return errDenied
	case a.allow != nil && !a.allow.Contains(h):
		return errNotAllowed
	}
	return nil
}

// SetAccess replaces the allow and deny lists. With an allow list (not nil)
// the tracker serves only the info hashes on it; it never serves those on
// the deny list (nil: none). Announces for others get a failure reason, and
// the swarms of info hashes the new lists refuse are dropped at once, with
// their peers; SetAccess returns how many. Safe to call while serving (on
// SIGHUP).
func (s *Server) SetAccess(allow, deny *HashList) int {
	a := &access{allow: allow, deny: deny}
	s.access.Store(a)
	n, err := s.store.dropIf(context.Background(), func(h metainfo.Hash) bool { return a.check(h) != nil })
	if err != nil {
		s.log.Error().Err(err).Msg("tracker: drop the swarms the new lists refuse")
	}
	return n
}

// refusal is a request the tracker's own limits turn away: a full
// registry, an info hash the lists refuse, a client over its rate. label is
// the failures metric's label, from a fixed set; reason goes to the client.
type refusal struct {
	label, reason string
}

func (r *refusal) Error() string { return r.reason }
