package private

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"swarm/metainfo"
	"swarm/tracker"
	"swarm/tracker/server"
)

// Client rules and bans: which clients may announce, by the prefix of
// their peer id, and which addresses may not. Both live in the database,
// managed by 'swarm tracker client|ban' (or a site's API), and the running
// tracker holds them in memory, reloaded with the users.

// ClientRule allows the clients whose peer id starts with Prefix. BEP 20's
// Azureus style is "-" + two letters + four version characters + "-"
// ("-qB4650-" is qBittorrent 4.6.5), so "-qB4" allows qBittorrent 4.x,
// "-TR3" Transmission 3.x, "-LT20" libtorrent (Rasterbar) 2.0 and "-SW01"
// swarm; Shadow style ids start with a letter ("M7-2-2--" is mainline).
type ClientRule struct {
	Prefix string    `json:"prefix"`
	Added  time.Time `json:"added"`
}

// Ban refuses every announce and scrape from an address in Prefix.
type Ban struct {
	Prefix netip.Prefix `json:"cidr"`
	Reason string       `json:"reason"`
	Added  time.Time    `json:"added"`
}

// maxPrefix is the longest client prefix: a whole peer id.
const maxPrefix = 20

// ParseClientPrefix checks a peer id prefix given by an admin: 1 to 20
// printable ASCII characters without spaces ("-qB4", "-TR3", "-lt0D",
// "-SW01", "M7-"). Prefixes are compared byte for byte with the start of
// the peer id, case included.
func ParseClientPrefix(s string) (string, error) {
	if s == "" || len(s) > maxPrefix {
		return "", fmt.Errorf("client prefix %q: want 1 to %d characters", s, maxPrefix)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return "", fmt.Errorf("client prefix %q: character %d is not printable ASCII", s, i)
		}
	}
	return s, nil
}

// ParseBan reads an address ("192.0.2.7", "2001:db8::1") or a range in
// CIDR notation ("192.0.2.0/24", "2001:db8::/32") and returns it as a
// masked prefix; an IPv4 address written as IPv6 ("::ffff:192.0.2.7") is
// the IPv4 address, since that is how the server sees IPv4 clients.
func ParseBan(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("ban %q: want an IP address or a CIDR range", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ban %q: want an IP address or a CIDR range", s)
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("ban %q: an IPv4-mapped range must be /96 or longer", s)
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// AllowClient adds a peer id prefix to the allow list. While the list is
// empty every client may announce; once it has one prefix, only clients
// matching one of its prefixes may.
func (d *DB) AllowClient(ctx context.Context, prefix string) error {
	p, err := ParseClientPrefix(prefix)
	if err != nil {
		return err
	}
	res, err := d.sql.ExecContext(ctx, "INSERT INTO client_rules (prefix, added) VALUES (?, ?) ON CONFLICT DO NOTHING",
		p, time.Now().Unix())
	if err != nil {
		return fmt.Errorf("allow client %q: %w", p, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("client prefix %q: %w", p, ErrExists)
	}
	return nil
}

// DisallowClient removes a prefix from the allow list.
func (d *DB) DisallowClient(ctx context.Context, prefix string) error {
	res, err := d.sql.ExecContext(ctx, "DELETE FROM client_rules WHERE prefix = ?", prefix)
	if err != nil {
		return fmt.Errorf("disallow client %q: %w", prefix, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("client prefix %q: %w", prefix, ErrNotFound)
	}
	return nil
}

// ClientRules returns the allow list, by prefix.
func (d *DB) ClientRules(ctx context.Context) ([]ClientRule, error) {
	rows, err := d.sql.QueryContext(ctx, "SELECT prefix, added FROM client_rules ORDER BY prefix")
	if err != nil {
		return nil, fmt.Errorf("list client rules: %w", err)
	}
	defer rows.Close()
	var out []ClientRule
	for rows.Next() {
		var (
			r     ClientRule
			added int64
		)
		if err := rows.Scan(&r.Prefix, &added); err != nil {
			return nil, fmt.Errorf("list client rules: %w", err)
		}
		r.Added = time.Unix(added, 0)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list client rules: %w", err)
	}
	return out, nil
}

// AddBan bans b.Prefix (ParseBan's form); a running tracker refuses its
// addresses within a second.
func (d *DB) AddBan(ctx context.Context, b Ban) error {
	if !b.Prefix.IsValid() || b.Prefix != b.Prefix.Masked() {
		return fmt.Errorf("ban %v: want a valid, masked prefix (ParseBan)", b.Prefix)
	}
	if b.Added.IsZero() {
		b.Added = time.Now()
	}
	res, err := d.sql.ExecContext(ctx, "INSERT INTO bans (cidr, reason, added) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
		b.Prefix.String(), b.Reason, b.Added.Unix())
	if err != nil {
		return fmt.Errorf("ban %v: %w", b.Prefix, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("ban %v: %w", b.Prefix, ErrExists)
	}
	return nil
}

// RemoveBan lifts the ban of p, exactly as it was added.
func (d *DB) RemoveBan(ctx context.Context, p netip.Prefix) error {
	res, err := d.sql.ExecContext(ctx, "DELETE FROM bans WHERE cidr = ?", p.String())
	if err != nil {
		return fmt.Errorf("remove ban %v: %w", p, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("ban %v: %w", p, ErrNotFound)
	}
	return nil
}

// Bans returns the bans, by range.
func (d *DB) Bans(ctx context.Context) ([]Ban, error) {
	rows, err := d.sql.QueryContext(ctx, "SELECT cidr, reason, added FROM bans ORDER BY cidr")
	if err != nil {
		return nil, fmt.Errorf("list bans: %w", err)
	}
	defer rows.Close()
	var out []Ban
	for rows.Next() {
		var (
			b     Ban
			cidr  string
			added int64
		)
		if err := rows.Scan(&cidr, &b.Reason, &added); err != nil {
			return nil, fmt.Errorf("list bans: %w", err)
		}
		if b.Prefix, err = ParseBan(cidr); err != nil {
			return nil, fmt.Errorf("list bans: stored %w", err)
		}
		b.Added = time.Unix(added, 0)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list bans: %w", err)
	}
	return out, nil
}

// ruleSet is what the announce path checks beyond users and torrents,
// loaded with them (Tracker.reload) and replaced whole.
type ruleSet struct {
	clients []string // allowed peer id prefixes; empty allows every client
	// bans holds the banned prefixes by length, so an address is checked
	// with one lookup per length in use.
	bans    map[netip.Prefix]struct{}
	banLens []int
	kinds   map[metainfo.Hash]Kind // torrents whose kind is not normal
	windows []window               // site-wide windows not yet over at the load
	// totals are the users' credited totals, for Config.MinRatio: as of
	// the load, plus what the announce path credited since.
	totals map[int64]*userTotals
}

// window is a FreeleechWindow in Unix nanoseconds.
type window struct {
	start, end int64
	kind       Kind
}

type userTotals struct{ up, down atomic.Int64 }

// clientAllowed reports whether the allow list lets peer announce.
func (rs *ruleSet) clientAllowed(peer *[20]byte) bool {
	if len(rs.clients) == 0 {
		return true
	}
	for _, p := range rs.clients {
		if string(peer[:len(p)]) == p {
			return true
		}
	}
	return false
}

// banned reports whether addr is in a banned range.
func (rs *ruleSet) banned(addr netip.Addr) bool {
	if len(rs.banLens) == 0 || !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	for _, bits := range rs.banLens {
		if bits > addr.BitLen() {
			continue
		}
		p, err := addr.Prefix(bits)
		if err != nil {
			continue
		}
		if _, ok := rs.bans[p]; ok {
			return true
		}
	}
	return false
}

// factors returns the multipliers of upload and download on h at now:
// the torrent's kind combined with every site-wide window open at now,
// each direction taking the best for the user.
func (rs *ruleSet) factors(h metainfo.Hash, now int64) (up, down int64) {
	up, down = rs.kinds[h].factors() // a missing torrent is normal
	for _, w := range rs.windows {
		if w.start <= now && now < w.end {
			u, d := w.kind.factors()
			up, down = max(up, u), min(down, d)
		}
	}
	return up, down
}

// loadRules reads the rules from the database over t.conn.
func (t *Tracker) loadRules(ctx context.Context) (*ruleSet, error) {
	rs := &ruleSet{bans: map[netip.Prefix]struct{}{}, kinds: map[metainfo.Hash]Kind{}}
	err := t.query(ctx, "SELECT prefix FROM client_rules ORDER BY prefix", nil, func(sc scanner) error {
		var p string
		if err := sc.Scan(&p); err != nil {
			return err
		}
		if _, err := ParseClientPrefix(p); err != nil {
			return fmt.Errorf("stored %w", err)
		}
		rs.clients = append(rs.clients, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load client rules: %w", err)
	}
	err = t.query(ctx, "SELECT cidr FROM bans", nil, func(sc scanner) error {
		var s string
		if err := sc.Scan(&s); err != nil {
			return err
		}
		p, err := ParseBan(s)
		if err != nil {
			return fmt.Errorf("stored %w", err)
		}
		rs.bans[p] = struct{}{}
		if !slices.Contains(rs.banLens, p.Bits()) {
			rs.banLens = append(rs.banLens, p.Bits())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load bans: %w", err)
	}
	err = t.query(ctx, "SELECT info_hash, kind FROM torrents WHERE kind <> 'normal'", nil, func(sc scanner) error {
		var h, kind string
		if err := sc.Scan(&h, &kind); err != nil {
			return err
		}
		ih, err := metainfo.ParseHash(h)
		if err != nil {
			return fmt.Errorf("stored %w", err)
		}
		if rs.kinds[ih], err = ParseKind(kind); err != nil {
			return fmt.Errorf("stored %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load torrent kinds: %w", err)
	}
	err = t.query(ctx, "SELECT starts, ends, kind FROM site_freeleech WHERE ends > ?", []any{t.cfg.Now().Unix()}, func(sc scanner) error {
		var (
			start, end int64
			kind       string
		)
		if err := sc.Scan(&start, &end, &kind); err != nil {
			return err
		}
		k, err := ParseKind(kind)
		if err != nil {
			return fmt.Errorf("stored %w", err)
		}
		rs.windows = append(rs.windows, window{start: start * 1e9, end: end * 1e9, kind: k})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load site freeleech: %w", err)
	}
	if t.cfg.MinRatio > 0 {
		rs.totals = map[int64]*userTotals{}
		err = t.query(ctx, "SELECT id, uploaded, downloaded FROM users", nil, func(sc scanner) error {
			var (
				id       int64
				up, down int64
			)
			if err := sc.Scan(&id, &up, &down); err != nil {
				return err
			}
			ut := &userTotals{}
			ut.up.Store(up)
			ut.down.Store(down)
			rs.totals[id] = ut
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("load user totals: %w", err)
		}
	}
	return rs, nil
}

type scanner interface{ Scan(...any) error }

// query runs q over t.conn and calls row for each row.
func (t *Tracker) query(ctx context.Context, q string, args []any, row func(scanner) error) error {
	rows, err := t.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// checkRatio returns the failure reason for a leeching announce of a user
// below Config.MinRatio, nil if they may leech.
func (t *Tracker) checkRatio(rs *ruleSet, user int64, req *server.AnnounceRequest) error {
	if t.cfg.MinRatio <= 0 || req.Left == 0 || req.Event == tracker.EventStopped || rs.totals == nil {
		return nil
	}
	ut := rs.totals[user]
	if ut == nil {
		return nil
	}
	up, down := ut.up.Load(), ut.down.Load()
	if down <= t.cfg.MinRatioAfter {
		return nil
	}
	if r := float64(up) / float64(down); r < t.cfg.MinRatio {
		// Rounded down, so that the ratio shown is never the minimum itself.
		return server.ClientError(fmt.Sprintf("your ratio %.2f is below this tracker's minimum of %.2f to download; seed to raise it",
			math.Floor(r*100)/100, t.cfg.MinRatio))
	}
	return nil
}

// refuseRule counts a refusal by one of the site's rules (bans, clients,
// ratio, addresses) and logs it at Info, with the reason, the masked
// passkey and the address: unlike a bad passkey or a client too eager,
// these are members the operator turned away and may be asked about.
func (t *Tracker) refuseRule(r reason, err error, passkey string, ip netip.Addr) error {
	t.metrics.refusals[r].Inc()
	t.log.Info().Str("passkey", maskPasskey(passkey)).Stringer("ip", ip).Str("reason", err.Error()).
		Msg("private tracker refused a request")
	return err
}

// recordCheats keeps evs for the next flush, counts them and logs them.
func (t *Tracker) recordCheats(evs []cheatEvent, passkey string) {
	if dropped := t.cheats.add(evs); dropped > 0 {
		t.metrics.cheatsDropped.Add(float64(dropped))
	}
	for _, e := range evs {
		t.metrics.cheats[e.kind].Inc()
		t.log.Info().Str("passkey", maskPasskey(passkey)).Stringer("ip", e.addr).Str("infohash", e.ut.hash.String()).
			Str("kind", string(e.kind)).Int64("claimed", e.claimed).Msg("private tracker did not credit an announce")
	}
}

// maskPasskey is the passkey a client sent, fit for logs: Passkey.Mask,
// or tracker.MaskSecret if it is no passkey.
func maskPasskey(raw string) string {
	if p, err := ParsePasskey(raw); err == nil {
		return p.Mask()
	}
	return tracker.MaskSecret(raw)
}
