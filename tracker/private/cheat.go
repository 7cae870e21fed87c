package private

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"swarm/metainfo"
)

// CheatKind is why an announce's bytes were not credited. The announce is
// still answered, so the peer stays in the swarm: a false positive costs
// an honest user some credit, never their download.
type CheatKind string

const (
	// CheatTooFast: the upload since the last announce is faster than
	// Config.MaxRate.
	CheatTooFast CheatKind = "too_fast"
	// CheatNoLeechers: upload claimed on a torrent where no other peer was
	// leeching at any time since the last announce.
	CheatNoLeechers CheatKind = "no_leechers"
	// CheatDecreasing: a counter went down within a session, without the
	// "started" of a restarted client.
	CheatDecreasing CheatKind = "decreasing"
	// CheatNegative: a negative counter (the server's parsers refuse them;
	// counted in case a Hook caller does not).
	CheatNegative CheatKind = "negative"
)

var cheatKinds = [...]CheatKind{CheatTooFast, CheatNoLeechers, CheatDecreasing, CheatNegative}

// CheatEvent is one announce whose bytes were not credited.
type CheatEvent struct {
	UserID   int64         `json:"user_id"`
	User     string        `json:"user"` // empty if the user was deleted
	InfoHash metainfo.Hash `json:"info_hash"`
	Kind     CheatKind     `json:"kind"`
	// Claimed is the bytes not credited: the upload delta for too_fast and
	// no_leechers, the fall of the counter for decreasing.
	Claimed int64      `json:"claimed"`
	At      time.Time  `json:"at"`
	IP      netip.Addr `json:"ip"`
}

// CheatQuery selects cheat events: zero fields select everything.
type CheatQuery struct {
	UserID int64     // only this user's
	Since  time.Time // only events at or after
	Limit  int       // at most this many, newest first; 0 means 1000
}

// CheatEvents returns the recorded events, newest first. The running
// tracker writes them with each flush (a second).
func (d *DB) CheatEvents(ctx context.Context, q CheatQuery) ([]CheatEvent, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	var (
		where []string
		args  []any
	)
	if q.UserID != 0 {
		where, args = append(where, "c.user_id = ?"), append(args, q.UserID)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "c.at >= ?"), append(args, q.Since.Unix())
	}
	query := "SELECT c.user_id, COALESCE(u.name, ''), c.info_hash, c.kind, c.claimed, c.at, c.ip FROM cheat_events c LEFT JOIN users u ON u.id = c.user_id"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY c.at DESC LIMIT ?"
	rows, err := d.sql.QueryContext(ctx, query, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list cheat events: %w", err)
	}
	defer rows.Close()
	var out []CheatEvent
	for rows.Next() {
		var (
			e        CheatEvent
			h, ip    string
			kind     string
			at       int64
			parseErr error
		)
		if err := rows.Scan(&e.UserID, &e.User, &h, &kind, &e.Claimed, &at, &ip); err != nil {
			return nil, fmt.Errorf("list cheat events: %w", err)
		}
		if e.InfoHash, parseErr = metainfo.ParseHash(h); parseErr != nil {
			return nil, fmt.Errorf("list cheat events: stored %w", parseErr)
		}
		e.IP, _ = netip.ParseAddr(ip) // an event from a Hook caller without an address has none
		e.Kind, e.At = CheatKind(kind), time.Unix(at, 0)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cheat events: %w", err)
	}
	return out, nil
}
