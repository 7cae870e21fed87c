package server

import (
	"context"

	"swarm/metainfo"
)

// store holds the swarms: the peers of each torrent, their counts and
// snatches, and their expiry. The frontends (HTTP, UDP) and the Hook run in
// front of it. Two implement it: memStore, the sharded in-memory registry
// (the default, one process), and redisStore (Config.Redis), which several
// tracker processes share.
type store interface {
	// announce applies req to its swarm and fills rp with the swarm's
	// counts and a uniform random sample of at most req.NumWant other
	// peers (leechers only for a known seed; of the asker's family only if
	// rp.oneFamily). It returns errFull, changing nothing, if req would
	// start a swarm past the bound.
	announce(ctx context.Context, req *AnnounceRequest, rp *reply) error
	// scrape fills out[i] with the counts of hs[i] (zero for an unknown
	// torrent); len(out) == len(hs).
	scrape(ctx context.Context, hs []metainfo.Hash, out []scrapeCounts) error
	// sweep drops expired peers and swarms empty for the expiry time.
	sweep(ctx context.Context) error
	// dropIf drops every swarm whose info hash drop reports true and
	// returns how many.
	dropIf(ctx context.Context, drop func(metainfo.Hash) bool) (int, error)
	stats(ctx context.Context) (stats, error)
	close() error
}

// memStore is the in-memory store: the registry, which cannot fail.
type memStore struct{ r *registry }

func (m memStore) announce(_ context.Context, req *AnnounceRequest, rp *reply) error {
	return m.r.announce(req, rp)
}

func (m memStore) scrape(_ context.Context, hs []metainfo.Hash, out []scrapeCounts) error {
	for i, h := range hs {
		out[i] = m.r.scrape(h)
	}
	return nil
}

func (m memStore) sweep(context.Context) error { m.r.sweep(); return nil }

func (m memStore) dropIf(_ context.Context, drop func(metainfo.Hash) bool) (int, error) {
	return m.r.dropIf(drop), nil
}

func (m memStore) stats(context.Context) (stats, error) { return m.r.stats(), nil }
func (m memStore) close() error                         { return nil }
