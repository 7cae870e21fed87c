package private

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"
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
