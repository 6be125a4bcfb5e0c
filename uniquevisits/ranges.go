package uniquevisits

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
	"github.com/ria-go/ria/internal/redisint"
	"github.com/ria-go/ria/shard"
)

// Unique visitors over a range of days, in each variant: the union of the days' visitors, a visitor
// who came on several days counted once.
//
// The sharded sets need a streaming union: a visitor's set shard depends on each day's expected size,
// so the same id sits in differently numbered sets on different days, and SUNION over the days' keys
// cannot be used (nor, with the sets on 16 servers, could it reach them). UniqueRange reads every set
// shard of every day with SSCAN and keeps the distinct ids in memory (see RangeOptions for the bound).
// The HyperLogLog variant merges the days' HyperLogLogs in PFCOUNT, the bitmap variant ORs the days'
// bitmaps with BITOP: both estimate or count without reading the visitors back.

var (
	// ErrBadRange: the range of days is empty (from after to) or longer than MaxRangeDays.
	ErrBadRange = errors.New("uniquevisits: bad range of days")

	// ErrBadMember: a set shard holds a member that is not a visitor id (an integer), so it was not
	// written by CountVisit.
	ErrBadMember = errors.New("uniquevisits: set member is not a visitor id")
)

// MaxRangeDays bounds a range of days: ten years.
const MaxRangeDays = 3660

// RangeOptions tune UniqueRange.
//
// Memory: UniqueRange holds the distinct visitor ids of one pass in a Go map (about 20 bytes per id:
// 20 MB for a million visitors over the range), plus one batch of SSCAN replies (Batch members) and
// the SCARD replies of one pipeline (8,192 integers). With Passes > 1 each pass keeps only the ids of
// one Passes-th of the id space, so the map holds about 1/Passes of the distinct visitors, and every
// set is read Passes times.
type RangeOptions struct {
	// Passes is the number of passes over the sets, each counting one part of the id space.
	// default: 1
	Passes int

	// Batch bounds the members one pipeline of SSCANs reads (a set larger than Batch is read alone,
	// Batch members per SSCAN).
	// default: 65,536
	Batch int
}

var rangeOptionsOf = option.Of{Type: "uniquevisits.RangeOptions", Also: ErrBadRange}

func (o *RangeOptions) init() error {
	return option.Join(
		option.Fill(rangeOptionsOf, "Passes", &o.Passes, 1, false),
		option.Fill(rangeOptionsOf, "Batch", &o.Batch, 65_536, false),
	)
}

// rangeDays lists the dates from from's to to's, inclusive, each date in its own time's location
// (as Day spells it).
func rangeDays(from, to time.Time) ([]string, error) {
	fy, fm, fd := from.Date()
	ty, tm, td := to.Date()
	start := time.Date(fy, fm, fd, 12, 0, 0, 0, time.UTC)
	end := time.Date(ty, tm, td, 12, 0, 0, 0, time.UTC)
	if end.Before(start) {
		return nil, fmt.Errorf("%w: %s is after %s", ErrBadRange, Day(from), Day(to))
	}
	n := int(end.Sub(start).Hours()/24) + 1
	if n > MaxRangeDays {
		return nil, fmt.Errorf("%w: %d days from %s to %s; at most %d", ErrBadRange, n, Day(from), Day(to), MaxRangeDays)
	}
	days := make([]string, n)
	for i := range days {
		days[i] = start.AddDate(0, 0, i).Format(DateLayout)
	}
	return days, nil
}

// UniqueRange returns the exact number of unique visitors from from's date to to's, inclusive, from
// the sharded sets themselves: a streaming union of every day's set shards (SSCAN) on every sharded
// server, ids seen on several days or servers counted once (so a visitor id that came under two
// session ids routed to two servers is one visitor here, as in the HyperLogLog and bitmap variants,
// where Count and Recount count it once per server). Servers that several components share are
// read once, told apart as Recount tells them. A day without an expected size has no sets. It writes
// nothing. opt may be nil for the defaults; see RangeOptions for the memory it takes.
func (c *Counter) UniqueRange(ctx context.Context, from, to time.Time, opt *RangeOptions) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	o, days, err := rangeArgs(from, to, opt)
	if err != nil {
		return 0, err
	}
	counts, release, err := c.counts(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	plan, err := rangePlan(ctx, counts, days, c.opt.ShardSize)
	if err != nil || len(plan) == 0 {
		return 0, err
	}
	if c.client != nil {
		return unionSets(ctx, []setServer{{"", c.client}}, plan, o)
	}
	var servers []setServer
	seen := map[string]bool{}
	for i := 0; i < c.opt.Shards; i++ {
		comp := shard.ShardComponent(c.opt.Component, i)
		client, release, err := c.reg.Acquire(ctx, comp)
		if err != nil {
			return 0, err
		}
		defer release()
		id, err := datasetOf(ctx, client)
		if noretry.IsErrorReply(err) { // the server will not say: read it anyway (a union reads twice harmlessly)
			id, err = "", nil
		}
		if err != nil {
			return 0, fmt.Errorf("uniquevisits: %s: telling its server apart: %w", comp, err)
		}
		if id != "" && seen[id] {
			continue
		}
		seen[id] = true
		servers = append(servers, setServer{comp, client})
	}
	return unionSets(ctx, servers, plan, o)
}

// UniqueRange is the chapter 9 UniqueRange on one server: the sets and the expected sizes on c.
func UniqueRange(ctx context.Context, c redis.Cmdable, from, to time.Time, opt *RangeOptions) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	o, days, err := rangeArgs(from, to, opt)
	if err != nil {
		return 0, err
	}
	if c == nil {
		return 0, ErrNoClient
	}
	plan, err := rangePlan(ctx, c, days, ShardSize)
	if err != nil || len(plan) == 0 {
		return 0, err
	}
	return unionSets(ctx, []setServer{{"", c}}, plan, o)
}

func rangeArgs(from, to time.Time, opt *RangeOptions) (RangeOptions, []string, error) {
	var o RangeOptions
	if opt != nil {
		o = *opt
	}
	if err := o.init(); err != nil {
		return o, nil, err
	}
	days, err := rangeDays(from, to)
	return o, days, err
}

// dayShards is one day's set shards: unique:<date>:0 to unique:<date>:<n-1>.
type dayShards struct {
	day string
	n   int
}

// rangePlan reads the days' expected sizes (one pipeline of GETs, nothing written) and names the
// days' set shards; days without an expected size have none.
func rangePlan(ctx context.Context, counts redis.Cmdable, days []string, shardSize int) ([]dayShards, error) {
	cmds := make([]*redis.StringCmd, len(days))
	_, err := counts.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, d := range days {
			cmds[i] = p.Get(ctx, expectedKey(d))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var plan []dayShards
	for i, d := range days {
		s, err := cmds[i].Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		expected, err := parsePositive(expectedKey(d), s)
		if err != nil {
			return nil, err
		}
		if expected > maxRecount*int64(shardSize)/2 {
			return nil, fmt.Errorf("%w: %s is %d: too many set shards to read", ErrBadCount, expectedKey(d), expected)
		}
		plan = append(plan, dayShards{d, shard.Shards(int(expected), shardSize)})
	}
	return plan, nil
}

// setServer is one sharded server to read.
type setServer struct {
	comp   string // "" for one client
	client redis.Cmdable
}

// unionSets counts the distinct ids in the plan's set shards on every server, one part of the id
// space per pass.
func unionSets(ctx context.Context, servers []setServer, plan []dayShards, o RangeOptions) (int64, error) {
	var total int64
	for pass := 0; pass < o.Passes; pass++ {
		ids := map[int64]struct{}{}
		keep := func(id int64) {
			if o.Passes == 1 || partOf(id, o.Passes) == pass {
				ids[id] = struct{}{}
			}
		}
		for _, s := range servers {
			for _, d := range plan {
				if err := scanDay(ctx, s.client, d, o.Batch, keep); err != nil {
					if s.comp != "" {
						return 0, fmt.Errorf("%s: %w", s.comp, err)
					}
					return 0, err
				}
			}
		}
		total += int64(len(ids))
	}
	return total, nil
}

// partOf is the pass that counts id: a multiplicative hash, so that any ids split evenly.
func partOf(id int64, passes int) int {
	return int((uint64(id) * 0x9e3779b97f4a7c15 >> 32) % uint64(passes))
}

// scanDay reads one day's set shards on c: SCARD of every shard (pipelined, 8,192 at a time), then
// SSCAN of the non-empty ones, pipelined so that one pipeline reads at most batch members.
func scanDay(ctx context.Context, c redis.Cmdable, d dayShards, batch int, keep func(int64)) error {
	const chunk = 8192
	for lo := 0; lo < d.n; lo += chunk {
		hi := min(lo+chunk, d.n)
		cards := make([]*redis.IntCmd, hi-lo)
		if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range cards {
				cards[i] = p.SCard(ctx, setBase(d.day)+":"+strconv.Itoa(lo+i))
			}
			return nil
		}); err != nil {
			return err
		}
		var keys []string
		var sizes []int64
		var sum int64
		flush := func() error {
			err := sscanAll(ctx, c, keys, sizes, batch, keep)
			keys, sizes, sum = keys[:0], sizes[:0], 0
			return err
		}
		for i, cmd := range cards {
			n := cmd.Val()
			if n == 0 {
				continue
			}
			if sum+n > int64(batch) && len(keys) > 0 {
				if err := flush(); err != nil {
					return err
				}
			}
			keys = append(keys, setBase(d.day)+":"+strconv.Itoa(lo+i))
			sizes = append(sizes, n)
			sum += n
		}
		if len(keys) > 0 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// sscanAll reads keys with one pipeline of SSCAN 0, asking each for its whole size (a small set, an
// intset or listpack, always answers whole), then follows any cursor left, batch members at a time.
func sscanAll(ctx context.Context, c redis.Cmdable, keys []string, sizes []int64, batch int, keep func(int64)) error {
	cmds := make([]*redis.ScanCmd, len(keys))
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.SScan(ctx, k, 0, "", min(sizes[i], int64(batch)))
		}
		return nil
	}); err != nil {
		return err
	}
	for i, cmd := range cmds {
		members, cursor := cmd.Val()
		if err := keepMembers(keys[i], members, keep); err != nil {
			return err
		}
		for cursor != 0 {
			var err error
			members, cursor, err = c.SScan(ctx, keys[i], cursor, "", int64(batch)).Result()
			if err != nil {
				return err
			}
			if err := keepMembers(keys[i], members, keep); err != nil {
				return err
			}
		}
	}
	return nil
}

func keepMembers(key string, members []string, keep func(int64)) error {
	for _, m := range members {
		id, ok := redisint.Parse(m) // "05" and "5" would be one visitor here, two members to Recount
		if !ok || id < 0 {
			return fmt.Errorf("%w: %s holds one", ErrBadMember, key) // not the member: it may be anything
		}
		keep(id)
	}
	return nil
}

// UniqueRangeHLL returns the HyperLogLog estimate of the unique visitors from from's date to to's,
// inclusive: PFCOUNT over the days' HyperLogLogs, which estimates their union. Its standard error is
// the HyperLogLog's, 0.81%, whatever the number of days.
//
// On a Redis Cluster the days' keys sit in different slots, and PFCOUNT (like PFMERGE) takes keys of
// one slot only; counting per node would count twice a visitor seen on days held by two nodes. So on
// a *redis.ClusterClient the days' HyperLogLogs (12 KB each at most) are copied into temporary keys
// that share one hash tag, counted, and deleted, in one MULTI/EXEC, so that they never outlive the
// call.
func UniqueRangeHLL(ctx context.Context, c redis.Cmdable, from, to time.Time) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	days, err := rangeDays(from, to)
	if err != nil {
		return 0, err
	}
	if c == nil {
		return 0, ErrNoClient
	}
	keys := make([]string, len(days))
	for i, d := range days {
		keys[i] = hllKey(d)
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return c.PFCount(ctx, keys...).Result()
	}
	return clusterPFCount(ctx, cc, keys)
}

// clusterPFCount is PFCOUNT of keys in several slots: their values copied under one hash tag.
func clusterPFCount(ctx context.Context, cc *redis.ClusterClient, keys []string) (int64, error) {
	gets := make([]*redis.StringCmd, len(keys))
	_, err := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			gets[i] = p.Get(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	var vals []string
	for _, g := range gets {
		v, err := g.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return 0, err
		}
		vals = append(vals, v)
	}
	if len(vals) == 0 {
		return 0, nil
	}
	tmp := tempKeys("unique:hll:range:", len(vals))
	var count *redis.IntCmd
	_, err = cc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, v := range vals {
			p.Set(ctx, tmp[i], v, time.Minute)
		}
		count = p.PFCount(ctx, tmp...)
		p.Del(ctx, tmp...)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return count.Result()
}

// tempKeys are n temporary key names that share one random hash tag, so that they sit in one slot
// of a Redis Cluster and no two calls collide.
func tempKeys(prefix string, n int) []string {
	tag := prefix + "{" + uuid.NewString() + "}:"
	keys := make([]string, n)
	for i := range keys {
		keys[i] = tag + strconv.Itoa(i)
	}
	return keys
}

// UniqueRangeHLL is the package's UniqueRangeHLL on the unsharded server.
func (c *Counter) UniqueRangeHLL(ctx context.Context, from, to time.Time) (_ int64, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if _, err := rangeDays(from, to); err != nil {
		return 0, err
	}
	counts, release, err := c.counts(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	return UniqueRangeHLL(ctx, counts, from, to)
}
