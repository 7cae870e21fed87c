package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"swarm/metainfo"
	"swarm/tracker"
)

// redisStore keeps the swarms in Redis, so that several tracker processes
// (behind a load balancer, or on several machines) serve the same swarms.
//
// Per swarm h, under prefix P:
//
//	P t:h:S4, P t:h:L4  hashes of the IPv4 seeders and leechers: compact address -> peer id + fetched ('0' or '1')
//	P t:h:S6, P t:h:L6  the same for IPv6
//	P t:h:T             sorted set: compact address -> last announce (unix seconds), for expiry
//	P t:h:D             snatches (completed events)
//
// and over all swarms P swarms (sorted set: info hash -> last announce, for
// the sweep and the swarm bound) and P stats (hash: s, l, n = seeders,
// leechers, snatches). One script (one round trip, atomic) applies an
// announce: it drops at most expireBatch expired peers of the swarm, updates
// the asker and samples with HRANDFIELD, so the work of one announce is
// bounded whatever the swarm's size; the sweep drops whole swarms with no
// announce for the expiry time, expireBatch swarms per script call. Memory
// is thus bounded by the peers announced within about two expiry times.
//
// The scripts build key names from the prefix, so the store needs one Redis
// (or a primary with replicas), not a Redis Cluster.
type redisStore struct {
	c         *redis.Client
	prefix    string
	now       func() time.Time
	expiry    int64 // seconds
	maxSwarms int64 // 0: no bound
}

// expireBatch bounds the expired peers one announce or scrape drops, and
// the swarms one sweep call drops.
const expireBatch = 64

// newRedisStore connects to the Redis at url (redis://host:port/db) and
// checks it answers.
func newRedisStore(ctx context.Context, url, prefix string, now func() time.Time, expiry time.Duration, maxSwarms int64) (*redisStore, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis store: parse %q: %w", url, err)
	}
	c := redis.NewClient(opt)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis store: ping %s: %w", opt.Addr, err)
	}
	return &redisStore{c: c, prefix: prefix, now: now, expiry: int64(max(expiry/time.Second, 1)), maxSwarms: maxSwarms}, nil
}

// luaCommon is shared by the scripts; ARGV[1] is always the key prefix.
const luaCommon = `
local P = ARGV[1]
local SW, ST = P .. 'swarms', P .. 'stats'
local function keys(h)
  local b = P .. 't:' .. h .. ':'
  return b .. 'S4', b .. 'L4', b .. 'S6', b .. 'L6', b .. 'T', b .. 'D'
end
-- expire drops at most lim peers of a swarm last seen at or before cutoff.
local function expire(S4, L4, S6, L6, T, cutoff, lim)
  local old = redis.call('ZRANGEBYSCORE', T, '-inf', cutoff, 'LIMIT', 0, lim)
  if #old == 0 then return end
  local ds, dl = 0, 0
  for _, a in ipairs(old) do
    local s, l = S4, L4
    if #a == 18 then s, l = S6, L6 end
    ds = ds + redis.call('HDEL', s, a)
    dl = dl + redis.call('HDEL', l, a)
  end
  redis.call('ZREM', T, unpack(old))
  if ds > 0 then redis.call('HINCRBY', ST, 's', -ds) end
  if dl > 0 then redis.call('HINCRBY', ST, 'l', -dl) end
end
local function dropSwarm(h)
  local S4, L4, S6, L6, T, D = keys(h)
  local s = redis.call('HLEN', S4) + redis.call('HLEN', S6)
  local l = redis.call('HLEN', L4) + redis.call('HLEN', L6)
  if s > 0 then redis.call('HINCRBY', ST, 's', -s) end
  if l > 0 then redis.call('HINCRBY', ST, 'l', -l) end
  redis.call('UNLINK', S4, L4, S6, L6, T, D) -- freed in the background: a big swarm does not stall Redis
  redis.call('ZREM', SW, h)
end
`

// announceScript: ARGV P, info hash, compact address, peer id, event,
// seeder, fetched, now, expiry, numwant, max swarms, one family, seed.
// Returns {status, complete, incomplete[, peers]}: peers is the sample, one
// record after another, each the length of the compact address (6 or 18),
// the address, the peer id and the fetched flag (21 bytes); status -1 means the swarm bound
// refused a new swarm.
var announceScript = redis.NewScript(luaCommon + `
local h, addr, id = ARGV[2], ARGV[3], ARGV[4]
local event = tonumber(ARGV[5])
local seeder, fetched = ARGV[6] == '1', ARGV[7] == '1'
local now, expiry = tonumber(ARGV[8]), tonumber(ARGV[9])
local numwant, maxSwarms = tonumber(ARGV[10]), tonumber(ARGV[11])
local oneFamily = ARGV[12] == '1'
math.randomseed(tonumber(ARGV[13]))
local S4, L4, S6, L6, T, D = keys(h)
local v6 = #addr == 18
local S, L = S4, L4
if v6 then S, L = S6, L6 end
if not redis.call('ZSCORE', SW, h) then
  if event == ` + strconv.Itoa(int(tracker.EventStopped)) + ` then return {0, 0, 0} end
  if maxSwarms > 0 and redis.call('ZCARD', SW) >= maxSwarms then return {-1} end
end
expire(S4, L4, S6, L6, T, now - expiry - 1, ` + strconv.Itoa(expireBatch) + `)
local cur = redis.call('HGET', S, addr)
local wasSeeder = cur ~= false
if not cur then cur = redis.call('HGET', L, addr) end
local found = cur ~= false
local present, known = false, false
if event == ` + strconv.Itoa(int(tracker.EventStopped)) + ` then
  if found then
    if wasSeeder then
      redis.call('HDEL', S, addr); redis.call('HINCRBY', ST, 's', -1)
    else
      redis.call('HDEL', L, addr); redis.call('HINCRBY', ST, 'l', -1)
    end
    redis.call('ZREM', T, addr)
  end
else
  -- a completed event counts once per peer: not again from a known seeder
  if event == ` + strconv.Itoa(int(tracker.EventCompleted)) + ` and not (found and wasSeeder) then
    redis.call('INCR', D); redis.call('HINCRBY', ST, 'n', 1)
  end
  -- a started event begins a new session (see registry.apply)
  local f = fetched
  if found and event ~= ` + strconv.Itoa(int(tracker.EventStarted)) + ` and string.byte(cur, 21) == 49 then f = true end
  if found and wasSeeder ~= seeder then
    if wasSeeder then
      redis.call('HDEL', S, addr); redis.call('HINCRBY', ST, 's', -1)
    else
      redis.call('HDEL', L, addr); redis.call('HINCRBY', ST, 'l', -1)
    end
    found = false
  end
  local val = id .. (f and '1' or '0')
  if seeder then redis.call('HSET', S, addr, val) else redis.call('HSET', L, addr, val) end
  if not found then redis.call('HINCRBY', ST, seeder and 's' or 'l', 1) end
  redis.call('ZADD', T, now, addr)
  present, known = true, seeder and f
end
local n4s, n4l = redis.call('HLEN', S4), redis.call('HLEN', L4)
local n6s, n6l = redis.call('HLEN', S6), redis.call('HLEN', L6)
if n4s + n4l + n6s + n6l == 0 and tonumber(redis.call('GET', D) or '0') == 0 then
  -- nothing worth keeping: the last peer left a swarm without snatches
  redis.call('DEL', T, D); redis.call('ZREM', SW, h)
  return {0, 0, 0}
end
redis.call('ZADD', SW, now, h)
local res = {1, n4s + n6s, n4l + n6l}
if not present or numwant <= 0 then return res end
-- groups to sample: {key, size, holds the asker, size without the asker, taken}
local groups = {}
local function add(k, n, self)
  if n > 0 then groups[#groups + 1] = {k, n, self, n - (self and 1 or 0), 0} end
end
if not (oneFamily and v6) then
  if not known then add(S4, n4s, not v6 and seeder) end
  add(L4, n4l, not v6 and not seeder)
end
if not (oneFamily and not v6) then
  if not known then add(S6, n6s, v6 and seeder) end
  add(L6, n6l, v6 and not seeder)
end
local m, parts = 0, {}
for _, g in ipairs(groups) do m = m + g[4] end
-- split the sample over the groups as a uniform draw over their union would
for _ = 1, math.min(numwant, m) do
  local r = math.random(m)
  for _, g in ipairs(groups) do
    if r <= g[4] then g[4] = g[4] - 1; g[5] = g[5] + 1; break end
    r = r - g[4]
  end
  m = m - 1
end
for _, g in ipairs(groups) do
  if g[5] > 0 then
    local want = g[5]
    if g[3] then want = want + 1 end
    -- HRANDFIELD picks a uniform subset but may return it in the hash's
    -- order: when the asker is not among the g[5]+1 picked, drop a random
    -- one of them, not the last.
    local got = redis.call('HRANDFIELD', g[1], want, 'WITHVALUES')
    local others = {}
    for j = 1, #got, 2 do
      if got[j] ~= addr then others[#others + 1] = j end
    end
    local skip = 0
    if #others > g[5] then skip = math.random(#others) end
    for i, j in ipairs(others) do
      if i ~= skip then parts[#parts + 1] = string.char(#got[j]) .. got[j] .. got[j + 1] end
    end
  end
end
-- one string of records (address length, compact address, peer id,
-- fetched): one bulk
-- reply to encode and parse instead of two per peer
res[4] = table.concat(parts)
return res
`)

// scrapeScript: ARGV P, now, expiry, info hashes... Returns complete,
// incomplete, downloaded for each hash.
var scrapeScript = redis.NewScript(luaCommon + `
local now, expiry = tonumber(ARGV[2]), tonumber(ARGV[3])
local res = {}
for i = 4, #ARGV do
  local h = ARGV[i]
  local S4, L4, S6, L6, T, D = keys(h)
  if redis.call('ZSCORE', SW, h) then
    expire(S4, L4, S6, L6, T, now - expiry - 1, ` + strconv.Itoa(expireBatch) + `)
  end
  res[#res + 1] = redis.call('HLEN', S4) + redis.call('HLEN', S6)
  res[#res + 1] = redis.call('HLEN', L4) + redis.call('HLEN', L6)
  res[#res + 1] = tonumber(redis.call('GET', D) or '0')
end
return res
`)

// sweepScript: ARGV P, cutoff. Drops at most expireBatch swarms with no
// announce since cutoff and returns how many it dropped.
var sweepScript = redis.NewScript(luaCommon + `
local old = redis.call('ZRANGEBYSCORE', SW, '-inf', ARGV[2], 'LIMIT', 0, ` + strconv.Itoa(expireBatch) + `)
for _, h in ipairs(old) do dropSwarm(h) end
return #old
`)

// dropScript: ARGV P, info hashes... Drops those swarms.
var dropScript = redis.NewScript(luaCommon + `
for i = 2, #ARGV do dropSwarm(ARGV[i]) end
return #ARGV - 1
`)

var statsScript = redis.NewScript(luaCommon + `
local s = redis.call('HMGET', ST, 's', 'l', 'n')
return {redis.call('ZCARD', SW), tonumber(s[1] or '0'), tonumber(s[2] or '0'), tonumber(s[3] or '0')}
`)

func b2s(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// withoutCancel: a client that hangs up does not cut a script call short
// (it would cost the pooled connection); go-redis's read and write
// timeouts (3 s) bound the call instead.
func withoutCancel(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func (r *redisStore) announce(ctx context.Context, req *AnnounceRequest, rp *reply) error {
	ctx = withoutCancel(ctx)
	ip := req.Addr.Addr().Unmap()
	var addr []byte
	if ip.Is4() {
		a := ip.As4()
		addr = append(make([]byte, 0, 18), a[:]...)
	} else {
		a := ip.As16()
		addr = append(make([]byte, 0, 18), a[:]...)
	}
	addr = append(addr, byte(req.Addr.Port()>>8), byte(req.Addr.Port()))
	fetched := req.Left > 0 || req.Downloaded > 0 || req.Event == tracker.EventCompleted
	res, err := announceScript.Run(ctx, r.c, nil,
		r.prefix, string(req.InfoHash[:]), addr, req.PeerID[:], int(req.Event),
		b2s(req.Left == 0), b2s(fetched), r.now().Unix(), r.expiry,
		req.NumWant, r.maxSwarms, b2s(rp.oneFamily), rand.Int32()).Slice()
	if err != nil {
		return fmt.Errorf("redis store: announce: %w", err)
	}
	if len(res) < 3 {
		if len(res) == 1 && res[0] == int64(-1) {
			return errFull
		}
		return fmt.Errorf("redis store: announce: reply of %d values", len(res))
	}
	c, ok1 := res[1].(int64)
	l, ok2 := res[2].(int64)
	if !ok1 || !ok2 || len(res) > 4 {
		return fmt.Errorf("redis store: announce: malformed reply")
	}
	rp.complete, rp.incomplete = int(c), int(l)
	if len(res) < 4 {
		return nil
	}
	peers, _ := res[3].(string)
	for len(peers) > 0 {
		n := int(peers[0])
		peers = peers[1:]
		if n != 6 && n != 18 || len(peers) < n+21 {
			return fmt.Errorf("redis store: announce: bad peer record (address of %d bytes, %d bytes left)", n, len(peers))
		}
		a, v := peers[:n], peers[n:n+21]
		peers = peers[n+21:]
		if n == 6 {
			rp.v4 = append(rp.v4, a...)
			if rp.wantIDs {
				rp.ids4 = append(rp.ids4, v[:20]...)
			}
		} else {
			rp.v6 = append(rp.v6, a...)
			if rp.wantIDs {
				rp.ids6 = append(rp.ids6, v[:20]...)
			}
		}
	}
	return nil
}

func (r *redisStore) scrape(ctx context.Context, hs []metainfo.Hash, out []scrapeCounts) error {
	ctx = withoutCancel(ctx)
	args := make([]any, 0, 3+len(hs))
	args = append(args, r.prefix, r.now().Unix(), r.expiry)
	for _, h := range hs {
		args = append(args, string(h[:]))
	}
	res, err := scrapeScript.Run(ctx, r.c, nil, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis store: scrape: %w", err)
	}
	if len(res) != 3*len(hs) {
		return fmt.Errorf("redis store: scrape: %d values for %d info hashes", len(res), len(hs))
	}
	for i := range hs {
		out[i] = scrapeCounts{res[3*i], res[3*i+1], res[3*i+2]}
	}
	return nil
}

// sweep drops the swarms with no announce for the expiry time, a batch per
// script call so that Redis serves announces between them.
func (r *redisStore) sweep(ctx context.Context) error {
	cutoff := r.now().Unix() - r.expiry - 1
	for {
		n, err := sweepScript.Run(ctx, r.c, nil, r.prefix, cutoff).Int()
		if err != nil {
			return fmt.Errorf("redis store: sweep: %w", err)
		}
		if n < expireBatch {
			return nil
		}
	}
}

func (r *redisStore) dropIf(ctx context.Context, drop func(metainfo.Hash) bool) (int, error) {
	n := 0
	var cursor uint64
	for {
		kv, next, err := r.c.ZScan(ctx, r.prefix+"swarms", cursor, "", 1000).Result()
		if err != nil {
			return n, fmt.Errorf("redis store: scan swarms: %w", err)
		}
		args := []any{r.prefix}
		for i := 0; i < len(kv); i += 2 {
			if len(kv[i]) == len(metainfo.Hash{}) && drop(metainfo.Hash([]byte(kv[i]))) {
				args = append(args, kv[i])
			}
		}
		if len(args) > 1 {
			d, err := dropScript.Run(ctx, r.c, nil, args...).Int()
			if err != nil {
				return n, fmt.Errorf("redis store: drop swarms: %w", err)
			}
			n += d
		}
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
}

func (r *redisStore) stats(ctx context.Context) (stats, error) {
	res, err := statsScript.Run(ctx, r.c, nil, r.prefix).Int64Slice()
	if err != nil {
		return stats{}, fmt.Errorf("redis store: stats: %w", err)
	}
	if len(res) != 4 {
		return stats{}, errors.New("redis store: stats: malformed reply")
	}
	return stats{swarms: int(res[0]), seeders: int(res[1]), leechers: int(res[2]), snatches: res[3]}, nil
}

func (r *redisStore) close() error { return r.c.Close() }
