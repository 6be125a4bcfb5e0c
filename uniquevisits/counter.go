package uniquevisits

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
	"github.com/ria-go/ria/shard"
)

// Options configure a Counter. They follow go-redis's rule, as in every package of the module: 0
// means the default, -1 means off where a field's doc gives an off, and any other negative value
// makes New and NewOnClient return an *OptionError naming the field (see ErrBadOption).
type Options struct {
	// Component is the unsharded component (the daily counts and expected sizes); the sharded sets
	// live on components "<Component>:0" to "<Component>:<Shards-1>".
	// default: "unique"
	Component string

	// Shards is the number of sharded servers: crc32("x"+sessionID) % Shards picks one.
	// default: 16; it cannot be off (-1 is an error)
	Shards int

	// ShardSize is the number of ids per set shard.
	// default: 512; it cannot be off (-1 is an error)
	ShardSize int

	// DailyExpected is the day's expected size when yesterday's count is unknown.
	// default: 1,000,000; it cannot be off (-1 is an error)
	DailyExpected int64

	// Now is the clock; the day counted is Now()'s date in Now()'s location.
	// default: time.Now
	Now func() time.Time

	// CacheDays bounds the expected-size cache to this many days (the most recent ones): the book's
	// EXPECTED dictionary gained an entry a day forever.
	// default: 2 (today, and yesterday for visits around midnight); -1: no cache (every call reads
	// the expected size from Redis)
	CacheDays int

	// Durable makes CountVisit, CountVisits and CountVisitHLL wait, after the writes and on their
	// own connections, until Durable.Replicas replicas of each server written have them (WAIT); see
	// the package doc. The clients must then be *redis.Client or *redis.ClusterClient.
	// default: off (Replicas 0), the book's behaviour; Timeout default: 1 second, -1: until ctx ends
	Durable Durability
}

var optionsOf = option.Of{Type: "uniquevisits.Options"}

// init checks o by the option rule and fills the defaults.
func (o *Options) init() error {
	if o.Component == "" {
		o.Component = Component
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return option.Join(
		option.Fill(optionsOf, "Shards", &o.Shards, Shards, false),
		option.Fill(optionsOf, "ShardSize", &o.ShardSize, ShardSize, false),
		option.Fill(optionsOf, "DailyExpected", &o.DailyExpected, DailyExpected, false),
		option.Fill(optionsOf, "CacheDays", &o.CacheDays, 2, true),
		o.Durable.Fill(optionsOf, "Durable."),
	)
}

// Counter counts unique visitors per day: the book's count_visit and get_expected over sharded
// connections (Redis in Action 10.2.2). It is safe for concurrent use.
type Counter struct {
	opt    Options
	reg    *conn.Registry
	client redis.Cmdable // NewOnClient: everything on one client

	mu    sync.Mutex
	cache map[string]int64 // day -> expected size
}

// New returns a counter whose sets live on the registry's components "<Component>:<n>" and whose
// counts live on "<Component>", as in the book's chapter 10. Any component may be a Redis Cluster
// config: every command the counter sends names one key. A nil reg is ErrNoClient, and an option
// the rule refuses an *OptionError.
func New(reg *conn.Registry, opt *Options) (*Counter, error) {
	if reg == nil {
		return nil, fmt.Errorf("%w: nil registry", ErrNoClient)
	}
	return makeCounter(reg, nil, opt)
}

// NewOnClient returns a counter that keeps everything on client, as in the book's chapter 9 (Shards
// and Component are not used). The client may be a *redis.ClusterClient, retrying or not: the SADD
// and INCR are never resent (see the package doc). A nil client is ErrNoClient, and an option the
// rule refuses an *OptionError.
func NewOnClient(client redis.Cmdable, opt *Options) (*Counter, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrNoClient)
	}
	return makeCounter(nil, client, opt)
}

func makeCounter(reg *conn.Registry, client redis.Cmdable, opt *Options) (*Counter, error) {
	c := &Counter{reg: reg, client: client, cache: map[string]int64{}}
	if opt != nil {
		c.opt = *opt
	}
	if err := c.opt.init(); err != nil {
		return nil, err
	}
	if client != nil {
		if err := newWriter(c.opt.Durable).routable(client); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Options returns the counter's options, defaults filled in.
func (c *Counter) Options() Options { return c.opt }

// counts returns the unsharded client.
func (c *Counter) counts(ctx context.Context) (redis.Cmdable, func(), error) {
	if c.client != nil {
		return c.client, func() {}, nil
	}
	if c.reg == nil {
		return nil, nil, ErrNoClient
	}
	return c.reg.Acquire(ctx, c.opt.Component)
}

// CountVisit counts a visit by the holder of sessionID today (the date of Now()): the book's
// count_visit. The session id's visitor id is added to the day's set shard on the sharded server
// chosen from the session id's canonical spelling (see CanonicalSessionID), so every spelling of one
// UUID is one visitor on one server; when it is new, the day's count is incremented on the unsharded
// server. Errors are Add's.
func (c *Counter) CountVisit(ctx context.Context, sessionID string) (_ Visit, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	canonical, id, err := session(sessionID)
	if err != nil {
		return Visit{}, err
	}
	wr := newWriter(c.opt.Durable)
	defer wr.close()
	counts, releaseCounts, err := c.counts(ctx)
	if err != nil {
		return Visit{}, err
	}
	defer releaseCounts()
	if err := wr.routable(counts); err != nil {
		return Visit{}, err
	}
	now := c.opt.Now()
	expected, err := c.Expected(ctx, now)
	if err != nil {
		return Visit{}, err
	}
	if c.client != nil {
		v, err := add(ctx, wr, c.client, counts, now, id, expected, c.opt.ShardSize)
		return confirmed(ctx, wr, v, err)
	}
	comp, err := shard.Component(c.opt.Component, canonical, c.opt.Shards)
	if err != nil {
		return Visit{}, err
	}
	sets, releaseSets, err := c.reg.Acquire(ctx, comp)
	if err != nil {
		return Visit{}, err
	}
	defer releaseSets()
	if err := wr.routable(sets); err != nil {
		return Visit{}, err
	}
	v, err := add(ctx, wr, sets, counts, now, id, expected, c.opt.ShardSize)
	v.Shard = comp
	return confirmed(ctx, wr, v, err)
}

// confirmed adds to a visit that wrote (a new id) the outcome of waiting for its servers' replicas:
// ErrNotDurable, beside add's own error if any, when one of them did not confirm in time.
func confirmed(ctx context.Context, wr *writer, v Visit, err error) (Visit, error) {
	if wr.w == nil || !v.New {
		return v, err
	}
	return v, errors.Join(err, notDurable("SADD "+v.Set+", INCR "+countKey(v.Day), wr.confirm(ctx)))
}

// Expected is get_expected with the book's process cache, bounded to the CacheDays most recent days.
func (c *Counter) Expected(ctx context.Context, day time.Time) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	d := Day(day)
	c.mu.Lock()
	v, ok := c.cache[d]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	counts, release, err := c.counts(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	v, err = Expected(ctx, counts, day, c.opt.DailyExpected)
	if err != nil {
		return 0, err
	}
	if c.opt.CacheDays == option.Off {
		return v, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cache[d] = v
	for len(c.cache) > c.opt.CacheDays { // ISO dates sort by time: drop the oldest
		var oldest string
		for k := range c.cache {
			if oldest == "" || k < oldest {
				oldest = k
			}
		}
		delete(c.cache, oldest)
	}
	return v, nil
}

// CachedDays lists the days whose expected size is cached, oldest first.
func (c *Counter) CachedDays() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	days := make([]string, 0, len(c.cache))
	for d := range c.cache {
		days = append(days, d)
	}
	slices.Sort(days)
	return days
}

// Count returns day's count of unique visitors (the INCRed counter).
func (c *Counter) Count(ctx context.Context, day time.Time) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	counts, release, err := c.counts(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	return Count(ctx, counts, day)
}

// Recount returns day's exact number of unique visitors from the sets themselves: SCARD of every set
// shard on every sharded server, one pipeline per server. Servers that several components share are
// counted once, told apart by what they say rather than by their configs' text (localhost:6379 and
// 127.0.0.1:6379 are one server): the run_id of INFO server (of every master, for a Redis Cluster)
// and the database the client selects. A server that refuses INFO (a user without +info) is told
// apart by its component's config instead, where two spellings of one address count twice. Use it
// to audit or repair the count after ErrUncounted. It does not write anything; a day without an
// expected size has no sets and counts 0.
func (c *Counter) Recount(ctx context.Context, day time.Time) (int64, error) {
	return c.RecountEach(ctx, day, nil)
}

// datasetOf names the dataset c reaches by what its server says, so two components on one server
// and database count once however their configs spell the address: the server's run_id (INFO
// server; every master's for a Redis Cluster, whose only database is 0) and the database number c
// selects (its options, or CLIENT INFO for a client of another kind).
func datasetOf(ctx context.Context, c redis.UniversalClient) (string, error) {
	switch cl := c.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		var ids []string
		err := cl.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			id, err := runID(ctx, m)
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
			return err
		})
		if err != nil {
			return "", err
		}
		slices.Sort(ids)
		return "cluster " + strings.Join(ids, ","), nil
	case *redis.Client:
		id, err := runID(ctx, cl)
		return id + " db " + strconv.Itoa(cl.Options().DB), err
	}
	id, err := runID(ctx, c)
	if err != nil {
		return "", err
	}
	ci, err := c.ClientInfo(ctx).Result()
	if err != nil {
		return "", err
	}
	return id + " db " + strconv.Itoa(ci.DB), nil
}

// configIdentity names the dataset a config points at, for servers that refuse INFO server (no
// +info for the user) or do not have it: there localhost:6379 and 127.0.0.1:6379 look different.
func configIdentity(cfg *conn.Config) string {
	if cfg == nil {
		return ""
	}
	addrs := slices.Clone(cfg.Addrs)
	slices.Sort(addrs)
	return fmt.Sprintf("config %v|%s|%s|%d|%s|%s", cfg.Kind, cfg.Network, cfg.Addr, cfg.DB, strings.Join(addrs, ","), cfg.Master)
}

// runID is the server's run_id from INFO server: random at each start, so it names one process.
func runID(ctx context.Context, c redis.Cmdable) (string, error) {
	s, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok && v != "" {
			return v, nil
		}
	}
	return "", errors.New("INFO server has no run_id")
}

// maxRecount bounds the set shards Recount reads per server (a day sized for 2^31 visitors).
const maxRecount = 1 << 23

// sumCards is the sum of SCARD over keys, pipelined in chunks.
func sumCards(ctx context.Context, c redis.Cmdable, keys []string) (int64, error) {
	const chunk = 8192
	var total int64
	for len(keys) > 0 {
		part := keys[:min(chunk, len(keys))]
		keys = keys[len(part):]
		cmds := make([]*redis.IntCmd, len(part))
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range part {
				cmds[i] = p.SCard(ctx, k)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		for _, cmd := range cmds {
			total += cmd.Val()
		}
	}
	return total, nil
}

// CountVisitHLL is the HyperLogLog variant of CountVisit: PFADD of the visitor id to the day's
// HyperLogLog on the unsharded server. It reports whether the estimate changed (usually, but not
// exactly, whether the visitor is new).
func (c *Counter) CountVisitHLL(ctx context.Context, sessionID string) (_ bool, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	counts, release, err := c.counts(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	wr := newWriter(c.opt.Durable)
	defer wr.close()
	if err := wr.routable(counts); err != nil {
		return false, err
	}
	now := c.opt.Now()
	changed, err := countVisitHLL(ctx, wr, counts, sessionID, now)
	if err != nil || !changed || wr.w == nil { // a PFADD that changed nothing wrote nothing
		return changed, err
	}
	return changed, notDurable("PFADD "+hllKey(Day(now)), wr.confirm(ctx))
}

// UniqueHLL returns the HyperLogLog estimate of day's unique visitors.
func (c *Counter) UniqueHLL(ctx context.Context, day time.Time) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	counts, release, err := c.counts(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	return UniqueHLL(ctx, counts, day)
}
