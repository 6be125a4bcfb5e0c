package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/uniquevisits"
)

func init() { register(92, visitsBench{}) }

// visitsBench measures the memory a day of unique visitors takes (Redis in Action 9.2.2): the book's
// sharded intsets against one plain SET of the same integer ids, a SET of the UUIDs themselves, and a
// HyperLogLog, each on a fresh redis-server, by MEMORY USAGE and by used_memory.
type visitsBench struct{}

func (visitsBench) Name() string { return "uniquevisits" }

// visitsDay is the day every layout counts under.
var visitsDay = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// visitsLayout is one way of storing the day's visitors.
type visitsLayout struct {
	name, short string
	book        string // what the book says a visitor costs, "" for nothing
	visitors    int    // the visitors it holds; 0: the day's distinct visitor ids
	// load writes the visitors with c, pipelined, and returns the keys it wrote.
	load func(ctx context.Context, c *redis.Client) ([]string, error)
	// check runs after the load and returns a line for the report (encodings, HLL error).
	check func(ctx context.Context, c *redis.Client, keys []string) (string, error)
}

// visitsResult is one layout's memory.
type visitsResult struct {
	layout      visitsLayout
	keys        int
	memoryUsage int64 // sum of MEMORY USAGE key SAMPLES 0
	usedMemory  int64 // used_memory after the load minus before
	warmUp      int64 // used_memory the warm-up left behind on the fresh server, its keys deleted
	encoding    string
	note        string
	loadTook    time.Duration
}

func (b visitsBench) Run(ctx context.Context, env *Env) (Section, error) {
	n := Pick(env, 1_000_000, 1_000_000, 20_000)
	env.Progress("making %d session ids", n)
	sessions, ids, err := visitorIDs(n)
	if err != nil {
		return Section{}, err
	}
	distinct := map[int64]struct{}{}
	for _, id := range ids {
		distinct[id] = struct{}{}
	}
	members := make([]string, n)
	for i, id := range ids {
		members[i] = strconv.FormatInt(id, 10)
	}
	day := uniquevisits.Day(visitsDay)
	base := "unique:" + day

	var expected int64
	layouts := []visitsLayout{
		{
			name:  "sharded SETs, the book's layout (`count_visit`: shard_key over the day's expected size, 512 per shard)",
			short: "sharded intsets (book)",
			book:  "8 bytes per visitor (an intset's int64)",
			load: func(ctx context.Context, c *redis.Client) ([]string, error) {
				var err error
				if expected, err = uniquevisits.Expected(ctx, c, visitsDay, uniquevisits.DailyExpected); err != nil {
					return nil, err
				}
				groups := map[string][]any{}
				for _, m := range members {
					k, err := shard.Key(base, "x"+m, int(expected), uniquevisits.ShardSize, shard.Python3)
					if err != nil {
						return nil, err
					}
					groups[k] = append(groups[k], m)
				}
				keys := slices.Sorted(maps.Keys(groups))
				return keys, pipelineChunks(ctx, c, len(keys), 500, func(p redis.Pipeliner, i int) {
					p.SAdd(ctx, keys[i], groups[keys[i]]...)
				})
			},
			check: func(ctx context.Context, c *redis.Client, keys []string) (string, error) {
				// The same ids through uniquevisits.Add land in the sets we wrote and are not new.
				rng := rand.New(rand.NewPCG(7, 7))
				for range 200 {
					id := ids[rng.IntN(len(ids))]
					v, err := uniquevisits.Add(ctx, c, c, visitsDay, id, expected, uniquevisits.ShardSize)
					if err != nil {
						return "", err
					}
					if v.New || !slices.Contains(keys, v.Set) {
						return "", fmt.Errorf("uniquevisits.Add(%d) went to %s (new %v): the bench's layout is not the package's", id, v.Set, v.New)
					}
				}
				cards, err := cards(ctx, c, keys)
				if err != nil {
					return "", err
				}
				return fmt.Sprintf("expected size %s → %s shards; %s to %s ids per set (mean %.0f)",
					count(expected), count(len(keys)), count(slices.Min(cards)), count(slices.Max(cards)),
					float64(n)/float64(len(keys))), nil
			},
		},
		{
			name:  "SETs filled to 512 ids each (the best case for intsets)",
			short: "intsets of 512",
			book:  "8 bytes per visitor",
			load: func(ctx context.Context, c *redis.Client) ([]string, error) {
				var keys []string
				for i := 0; i < len(members); i += uniquevisits.ShardSize {
					keys = append(keys, fmt.Sprintf("unique:full:%s:%d", day, len(keys)))
				}
				return keys, pipelineChunks(ctx, c, len(keys), 500, func(p redis.Pipeliner, i int) {
					lo := i * uniquevisits.ShardSize
					p.SAdd(ctx, keys[i], anys(members[lo:min(lo+uniquevisits.ShardSize, len(members))])...)
				})
			},
		},
		{
			name:  "one SET of the integer ids",
			short: "one SET of ids",
			book:  "–",
			load: func(ctx context.Context, c *redis.Client) ([]string, error) {
				key := "unique:plain:" + day
				return []string{key}, pipelineChunks(ctx, c, (len(members)+999)/1000, 100, func(p redis.Pipeliner, i int) {
					p.SAdd(ctx, key, anys(members[i*1000:min((i+1)*1000, len(members))])...)
				})
			},
		},
		{
			name:  "one SET of the UUID strings (36 bytes each)",
			short: "one SET of UUIDs",
			book:  "36 bytes per visitor stored as-is (16 as binary)",
			load: func(ctx context.Context, c *redis.Client) ([]string, error) {
				key := "unique:uuid:" + day
				return []string{key}, pipelineChunks(ctx, c, (len(sessions)+999)/1000, 100, func(p redis.Pipeliner, i int) {
					p.SAdd(ctx, key, anys(sessions[i*1000:min((i+1)*1000, len(sessions))])...)
				})
			},
		},
	}
	var hllErrors []string
	var hllFinal float64
	layouts = append(layouts, visitsLayout{
		name:  "HyperLogLog (`CountVisitHLL`: PFADD of the same ids)",
		short: "HyperLogLog",
		book:  "–",
		load: func(ctx context.Context, c *redis.Client) ([]string, error) {
			// The key CountVisitHLL writes: found by counting one visitor through it.
			if _, err := uniquevisits.CountVisitHLL(ctx, c, sessions[0], visitsDay); err != nil {
				return nil, err
			}
			keys, err := c.Keys(ctx, "*").Result()
			if err != nil {
				return nil, err
			}
			if len(keys) != 1 {
				return nil, fmt.Errorf("CountVisitHLL wrote keys %q; want one", keys)
			}
			key := keys[0]
			seen := map[int64]struct{}{}
			next := 1000
			for lo := 0; lo < len(members); lo += 10_000 {
				hi := min(lo+10_000, len(members))
				if err := pipelineChunks(ctx, c, (hi-lo+999)/1000, 100, func(p redis.Pipeliner, i int) {
					p.PFAdd(ctx, key, anys(members[lo+i*1000:min(lo+(i+1)*1000, hi)])...)
				}); err != nil {
					return nil, err
				}
				for _, id := range ids[lo:hi] {
					seen[id] = struct{}{}
				}
				if hi >= next || hi == len(members) {
					est, err := uniquevisits.UniqueHLL(ctx, c, visitsDay)
					if err != nil {
						return nil, err
					}
					e := float64(est)/float64(len(seen)) - 1
					hllErrors = append(hllErrors, fmt.Sprintf("%s: %s (%+.2f%%)", count(len(seen)), count(est), 100*e))
					hllFinal = e
					for next <= hi {
						next *= 10
					}
				}
			}
			return keys, nil
		},
		check: func(ctx context.Context, c *redis.Client, keys []string) (string, error) {
			return "estimate at " + strings.Join(hllErrors, ", "), nil
		},
	})

	bitmapOpt := &uniquevisits.BitmapOptions{Now: func() time.Time { return visitsDay }}
	layouts = append(layouts, visitsLayout{
		name:     fmt.Sprintf("bitmap of dense user ids 0 to %s (`uniquevisits.NewBitmap`: SETBIT)", count(n-1)),
		short:    "bitmap",
		book:     "–",
		visitors: n,
		load: func(ctx context.Context, c *redis.Client) ([]string, error) {
			bm, err := uniquevisits.NewBitmap(c, bitmapOpt)
			if err != nil {
				return nil, err
			}
			// The highest id first, through the package: the string is allocated once, and its key is
			// the one Bitmap writes.
			v, err := bm.CountVisit(ctx, int64(n-1))
			if err != nil {
				return nil, err
			}
			return []string{v.Key}, pipelineChunks(ctx, c, n-1, 10_000, func(p redis.Pipeliner, i int) {
				p.SetBit(ctx, v.Key, int64(i), 1)
			})
		},
		check: func(ctx context.Context, c *redis.Client, keys []string) (string, error) {
			bm, err := uniquevisits.NewBitmap(c, bitmapOpt)
			if err != nil {
				return "", err
			}
			got, err := bm.Count(ctx, visitsDay)
			if err != nil {
				return "", err
			}
			if got != int64(n) {
				return "", fmt.Errorf("Bitmap.Count = %d; want %d", got, n)
			}
			return fmt.Sprintf("Bitmap.Count (BITCOUNT) %s, exact; it counts user ids, not the sessions' 60-bit ids, "+
				"which would need a bitmap of 2^60 bits", count(got)), nil
		},
	})

	var res []visitsResult
	for _, l := range layouts {
		env.Progress("%s: loading %d visitors", l.short, n)
		r, err := b.measure(ctx, env, l)
		if err != nil {
			return Section{}, fmt.Errorf("%s: %w", l.short, err)
		}
		res = append(res, r)
	}
	bulk, err := b.bulk(ctx, env)
	if err != nil {
		return Section{}, fmt.Errorf("bulk over %d servers: %w", uniquevisits.Shards, err)
	}
	return b.section(env, n, len(distinct), res, hllFinal, bulk)
}

// visitsBulk is CountVisit one visit at a time ([0]) against CountVisits ([1]) over sharded servers.
type visitsBulk struct {
	visits, turns int // visits per turn
	took          [2]time.Duration
	cmds          [2]map[string]int64 // commands the servers executed, over every turn
}

// bulk counts visits over uniquevisits.Shards sharded servers and one for the counts (the book's
// chapter 10 layout, through a registry): turns of one Counter.CountVisits of every visit against
// Counter.CountVisit one visit at a time, each turn on new session ids.
func (visitsBench) bulk(ctx context.Context, env *Env) (visitsBulk, error) {
	r := visitsBulk{visits: Pick(env, 10_000, 10_000, 1_000), turns: Pick(env, 3, 2, 1)}
	env.Progress("starting %d redis-servers", uniquevisits.Shards+1)
	servers := make([]*redistest.Server, uniquevisits.Shards+1)
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() { servers[i], errs[i] = env.Server(ctx, nil) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return r, err
	}
	counts := servers[uniquevisits.Shards] // also holds the configs, as the book's main server does
	cfg := counts.NewClient()
	defer cfg.Close()
	reg, err := conn.New(cfg, nil)
	if err != nil {
		return r, err
	}
	defer reg.Close()
	comps := make([]string, len(servers))
	for i, srv := range servers {
		comps[i] = uniquevisits.Component
		if i < uniquevisits.Shards {
			comps[i] = shard.ShardComponent(uniquevisits.Component, i)
		}
		if err := reg.SetConfig(ctx, comps[i], map[string]any{"addr": srv.Addr()}); err != nil {
			return r, err
		}
	}
	counter, err := uniquevisits.New(reg, &uniquevisits.Options{Now: func() time.Time { return visitsDay }})
	if err != nil {
		return r, err
	}
	// Warm up: the expected size cached, every server's connection dialed.
	if _, err := counter.Expected(ctx, visitsDay); err != nil {
		return r, err
	}
	hosts := make([]redis.UniversalClient, len(comps))
	for i, comp := range comps {
		if hosts[i], err = reg.Client(ctx, comp); err != nil {
			return r, err
		}
		if err := hosts[i].Ping(ctx).Err(); err != nil {
			return r, err
		}
	}
	sessions, _, err := visitorIDs(2 * r.turns * r.visits) // new visitors for every turn and variant
	if err != nil {
		return r, err
	}
	variants := [2]func(ctx context.Context, sids []string) error{
		func(ctx context.Context, sids []string) error {
			for _, sid := range sids {
				v, err := counter.CountVisit(ctx, sid)
				if err != nil {
					return err
				}
				if !v.New {
					return fmt.Errorf("CountVisit(%s): not new", sid)
				}
			}
			return nil
		},
		func(ctx context.Context, sids []string) error {
			res, err := counter.CountVisits(ctx, sids)
			if err != nil {
				return err
			}
			for i, v := range res {
				if !v.Visit.New {
					return fmt.Errorf("CountVisits: %s not new", sids[i])
				}
			}
			return nil
		},
	}
	r.cmds = [2]map[string]int64{{}, {}}
	for k := range r.turns {
		for i, run := range variants {
			env.Progress("%d visits over %d servers: %s (%d/%d)", r.visits, uniquevisits.Shards,
				[]string{"CountVisit one by one", "CountVisits"}[i], k+1, r.turns)
			lo := (2*k + i) * r.visits
			before, err := commandStats(ctx, hosts)
			if err != nil {
				return r, err
			}
			t0 := time.Now()
			if err := run(ctx, sessions[lo:lo+r.visits]); err != nil {
				return r, err
			}
			r.took[i] += time.Since(t0)
			after, err := commandStats(ctx, hosts)
			if err != nil {
				return r, err
			}
			for name, calls := range after {
				if d := calls - before[name]; d != 0 && !handshake[name] {
					r.cmds[i][name] += d
				}
			}
		}
	}
	// The counts agree with the visits made, and with the sets.
	want := int64(2 * r.turns * r.visits)
	got, err := counter.Count(ctx, visitsDay)
	if err != nil {
		return r, err
	}
	re, err := counter.Recount(ctx, visitsDay)
	if err != nil {
		return r, err
	}
	if got != want || re != want {
		return r, fmt.Errorf("count %d, recount %d; want %d", got, re, want)
	}
	return r, nil
}

// visitorIDs makes n random version-4 UUIDs (from a seeded generator, so every run stores the same
// data) and their visitor ids as uniquevisits parses them.
func visitorIDs(n int) ([]string, []int64, error) {
	src := rand.NewChaCha8([32]byte{'r', 'i', 'a'})
	sessions := make([]string, n)
	ids := make([]int64, n)
	for i := range sessions {
		u, err := uuid.NewRandomFromReader(src)
		if err != nil {
			return nil, nil, err
		}
		sessions[i] = u.String()
		if ids[i], err = uniquevisits.ParseSessionID(sessions[i]); err != nil {
			return nil, nil, err
		}
	}
	return sessions, ids, nil
}

// measure loads one layout on a fresh server and reads its memory two ways.
func (visitsBench) measure(ctx context.Context, env *Env, l visitsLayout) (visitsResult, error) {
	r := visitsResult{layout: l}
	srv, err := env.Server(ctx, nil)
	if err != nil {
		return r, err
	}
	defer srv.Close() // the big sets take memory: free it before the next layout
	probe := srv.NewClient()
	defer probe.Close()
	// A fresh server allocates some things once, on first use (an HLL's first dense registers, a
	// client's argument array for a long command...). Use the same paths once on scratch keys, so that
	// the growth measured is the layout's own; what the warm-up leaves behind goes in the report.
	fresh, err := settledMemory(ctx, probe)
	if err != nil {
		return r, err
	}
	if err := warmUp(ctx, srv.NewClient()); err != nil {
		return r, err
	}
	before, err := settledMemory(ctx, probe)
	if err != nil {
		return r, err
	}
	r.warmUp = before - fresh
	// The load runs on its own connection, closed before measuring, so that its buffers are gone.
	loader := srv.NewClient()
	t0 := time.Now()
	keys, err := l.load(ctx, loader)
	r.loadTook = time.Since(t0)
	if err == nil && l.check != nil {
		env.Progress("%s: checking", l.short)
		r.note, err = l.check(ctx, loader, keys)
	}
	loader.Close()
	if err != nil {
		return r, err
	}
	r.keys = len(keys)
	env.Progress("%s: measuring %d keys", l.short, len(keys))
	// The loader's connection is freed when the server notices it closed: give it a moment. Read
	// used_memory before MEMORY USAGE, whose replies take memory too.
	after, err := settledMemory(ctx, probe)
	if err != nil {
		return r, err
	}
	r.usedMemory = after - before
	usage := make([]*redis.IntCmd, len(keys))
	enc := make([]*redis.StringCmd, len(keys))
	if err := pipelineChunks(ctx, probe, len(keys), 1000, func(p redis.Pipeliner, i int) {
		usage[i] = p.MemoryUsage(ctx, keys[i], 0) // SAMPLES 0: every element, not an estimate
		enc[i] = p.ObjectEncoding(ctx, keys[i])
	}); err != nil {
		return r, err
	}
	encodings := map[string]int{}
	for i := range keys {
		r.memoryUsage += usage[i].Val()
		encodings[enc[i].Val()]++
	}
	var es []string
	for _, e := range slices.Sorted(maps.Keys(encodings)) {
		if len(encodings) == 1 {
			es = append(es, e)
		} else {
			es = append(es, fmt.Sprintf("%s ×%d", e, encodings[e]))
		}
	}
	r.encoding = strings.Join(es, ", ")
	return r, nil
}

// warmUp runs commands like the layouts' on scratch keys, deletes them and closes c.
func warmUp(ctx context.Context, c *redis.Client) error {
	defer c.Close()
	ints, strs := make([]any, 1000), make([]any, 1000)
	for i := range ints {
		ints[i] = int64(1e15) + int64(i)
		strs[i] = uuid.NewString()
	}
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, "warmup:intset", ints[:500]...)
		p.SAdd(ctx, "warmup:ints", ints...)
		p.SAdd(ctx, "warmup:strings", strs...)
		for range 3 {
			p.PFAdd(ctx, "warmup:hll", ints...)
		}
		p.PFCount(ctx, "warmup:hll")
		p.SetBit(ctx, "warmup:bitmap", 8*1000, 1)
		p.SetBit(ctx, "warmup:bitmap", 0, 1)
		p.Keys(ctx, "warmup:*")
		p.Del(ctx, "warmup:intset", "warmup:ints", "warmup:strings", "warmup:hll", "warmup:bitmap")
		return nil
	})
	return err
}

// pipelineChunks queues n commands (add(p, i) for i in 0..n-1) in pipelines of per commands.
func pipelineChunks(ctx context.Context, c redis.Cmdable, n, per int, add func(p redis.Pipeliner, i int)) error {
	for lo := 0; lo < n; lo += per {
		cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := lo; i < min(lo+per, n); i++ {
				add(p, i)
			}
			return nil
		})
		if err != nil {
			for _, cmd := range cmds {
				if cmd.Err() != nil && !errors.Is(cmd.Err(), redis.Nil) {
					return fmt.Errorf("%s: %w", cmd.Name(), cmd.Err())
				}
			}
			return err
		}
	}
	return nil
}

func cards(ctx context.Context, c redis.Cmdable, keys []string) ([]int64, error) {
	cmds := make([]*redis.IntCmd, len(keys))
	if err := pipelineChunks(ctx, c, len(keys), 1000, func(p redis.Pipeliner, i int) {
		cmds[i] = p.SCard(ctx, keys[i])
	}); err != nil {
		return nil, err
	}
	out := make([]int64, len(keys))
	for i, cmd := range cmds {
		out[i] = cmd.Val()
	}
	return out, nil
}

// perVisitor formats bytes per visitor, with three decimals below one byte (a bitmap's eighth).
func perVisitor(b float64) string {
	if b < 1 {
		return fmt.Sprintf("%.3f", b)
	}
	return num(b)
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// settledMemory is INFO memory's used_memory once it has stopped moving: Redis frees a closed
// client's buffers and resizes the others' in its cron, so it reads until two readings 100 ms
// apart agree (for at most 3 s).
func settledMemory(ctx context.Context, c redis.Cmdable) (int64, error) {
	last := int64(-1)
	for deadline := time.Now().Add(3 * time.Second); ; {
		time.Sleep(100 * time.Millisecond)
		m, err := usedMemory(ctx, c)
		if err != nil || m == last || time.Now().After(deadline) {
			return m, err
		}
		last = m
	}
}

// usedMemory is INFO memory's used_memory less mem_clients_normal: what the allocator handed out,
// without the clients' query and reply buffers, which Redis 7 resizes in its cron (by KBs: as much
// as a HyperLogLog).
func usedMemory(ctx context.Context, c redis.Cmdable) (int64, error) {
	s, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	fields := map[string]int64{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (k != "used_memory" && k != "mem_clients_normal") {
			continue
		}
		if fields[k], err = strconv.ParseInt(v, 10, 64); err != nil {
			return 0, fmt.Errorf("INFO memory: %s: %w", k, err)
		}
	}
	used, ok1 := fields["used_memory"]
	clients, ok2 := fields["mem_clients_normal"]
	if !ok1 || !ok2 {
		return 0, errors.New("INFO memory: no used_memory or mem_clients_normal")
	}
	return used - clients, nil
}

func (visitsBench) section(env *Env, n, distinct int, res []visitsResult, hllErr float64, bulk visitsBulk) (Section, error) {
	var left []int64
	for _, r := range res {
		left = append(left, r.warmUp)
	}
	warmUps := bytesIEC(float64(slices.Min(left)))
	if lo, hi := bytesIEC(float64(slices.Min(left))), bytesIEC(float64(slices.Max(left))); lo != hi {
		warmUps = lo + " to " + hi
	}
	s := Section{
		Title: "Unique visitors: memory per visitor",
		Text: []string{
			fmt.Sprintf("One day of %s visitors (%s distinct visitor ids), each a random UUID as a session id; the "+
				"visitor id is its first 15 hex digits as an integer (`uniquevisits.ParseSessionID`, the book's "+
				"`int(session_id.replace('-', '')[:15], 16)`). Each layout is loaded on its own fresh redis-server "+
				"(7.0 defaults: set-max-intset-entries 512) with pipelined SADD/PFADD of many members each, "+
				"then measured two ways: the sum of `MEMORY USAGE key SAMPLES 0` over the layout's keys (the key, "+
				"its value and their allocations, every element counted), and the growth of INFO's `used_memory` "+
				"(everything the allocator handed out, the keyspace's own hash table included) less "+
				"`mem_clients_normal` (the connections' buffers, which Redis 7 resizes by a few KB at a time, as much "+
				"as a HyperLogLog), read once it had settled, after a warm-up on scratch keys (on each fresh server "+
				"it left %s behind once its keys were deleted: allocations made once, on first use of these "+
				"commands) and after the loading connection was closed.", count(n), count(distinct), warmUps),
		},
	}
	tab := Table{Header: []string{"layout", "keys", "encoding", "MEMORY USAGE", "bytes per visitor",
		"used_memory growth", "bytes per visitor", "count", "book"}}
	var groups []string
	var mu, um []float64 // totals in bytes
	var notes []string
	visitors := func(r visitsResult) float64 {
		if r.layout.visitors > 0 {
			return float64(r.layout.visitors)
		}
		return float64(distinct)
	}
	for _, r := range res {
		countCol := "exact"
		if r.layout.short == "HyperLogLog" {
			countCol = fmt.Sprintf("estimate, %+.2f%% off", 100*hllErr)
		}
		tab.Rows = append(tab.Rows, []string{r.layout.name, count(r.keys), r.encoding,
			bytesIEC(float64(r.memoryUsage)), perVisitor(float64(r.memoryUsage) / visitors(r)),
			bytesIEC(float64(r.usedMemory)), perVisitor(float64(r.usedMemory) / visitors(r)), countCol, r.layout.book})
		groups = append(groups, r.layout.short)
		mu = append(mu, float64(r.memoryUsage))
		um = append(um, float64(r.usedMemory))
		if r.note != "" {
			notes = append(notes, fmt.Sprintf("%s: %s.", r.layout.short, r.note))
		}
	}
	s.Tables = append(s.Tables, tab)

	perSec := func(i int) float64 { return float64(bulk.turns*bulk.visits) / bulk.took[i].Seconds() }
	speedup := perSec(1) / perSec(0)
	s.Tables = append(s.Tables, Table{
		Caption: fmt.Sprintf("Counting %s visits over %d sharded servers, the counts on a %dth (the book's chapter 10 "+
			"layout through the registry: `uniquevisits.New`), every visitor new, %d turn(s) of each, one after "+
			"the other; server commands are INFO commandstats summed over the %d servers:",
			count(bulk.visits), uniquevisits.Shards, uniquevisits.Shards+1, bulk.turns, uniquevisits.Shards+1),
		Header: []string{"call", "visits /s", fmt.Sprintf("time per %s visits", count(bulk.visits)),
			fmt.Sprintf("server commands per %s visits", count(bulk.visits)), "vs one by one"},
		Rows: [][]string{
			{"`Counter.CountVisit`, one visit at a time", num(perSec(0)), ms(bulk.took[0] / time.Duration(bulk.turns)),
				cmdSummary(bulk.cmds[0], bulk.turns), "1.0×"},
			{fmt.Sprintf("`Counter.CountVisits` of all %s", count(bulk.visits)), num(perSec(1)),
				ms(bulk.took[1] / time.Duration(bulk.turns)), cmdSummary(bulk.cmds[1], bulk.turns), ratio(speedup)},
		},
	})
	var took []string
	for _, r := range res {
		took = append(took, fmt.Sprintf("%s %v", r.layout.short, r.loadTook.Round(time.Millisecond)))
	}
	notes = append(notes, "Loading took "+strings.Join(took, ", ")+".")
	book, full, plain, uuids, hll, bitmap := res[0], res[1], res[2], res[3], res[4], res[5]
	per := func(r visitsResult) float64 { return float64(r.usedMemory) / visitors(r) }
	fill := "so here fuller sets were cheaper per visitor"
	if book.memoryUsage <= full.memoryUsage {
		fill = "so filling the sets did not make them cheaper per visitor"
	}
	s.Summary = fmt.Sprintf("bytes per visitor at %s (used_memory): sharded intsets %s, one SET of ids %s, SET of UUIDs %s, "+
		"HyperLogLog %s (%s in all, %+.2f%% off), bitmap of dense ids %s (MEMORY USAGE %s)", count(n), num(per(book)),
		num(per(plain)), num(per(uuids)), perVisitor(per(hll)), bytesIEC(float64(hll.usedMemory)), 100*hllErr,
		perVisitor(per(bitmap)), perVisitor(float64(bitmap.memoryUsage)/visitors(bitmap))) +
		fmt.Sprintf("; %s visits over %d servers: `CountVisits` %s faster than `CountVisit` one by one (%s vs %s visits/s)",
			count(bulk.visits), uniquevisits.Shards, ratio(speedup), num(perSec(1)), num(perSec(0)))
	s.Notes = append(s.Notes, strings.Join(notes, " "),
		fmt.Sprintf("Reading it: an intset stores each id as 8 bytes (int64: these ids need 60 bits) after an "+
			"8-byte header, in one allocation that jemalloc rounds up to its size classes. The book's sets are "+
			"sized for the day's expected count rounded up to a power of two and doubled by shard_key, so here "+
			"they hold %.0f ids on average (%.0f%% of 512) and took %s per key by MEMORY USAGE, against %s for "+
			"sets filled to 512: a full intset is 4,104 bytes and lands in a 5,120-byte block, %s. "+
			"A plain SET past 512 members is a hash table: a dict entry, an sds string per member and the table's buckets, %s "+
			"the intsets' bytes; UUID strings make each member longer still. The HyperLogLog's 12 KB of "+
			"registers do not grow with the visitors, at the price of an estimate with a standard error of "+
			"0.81%%. A bitmap takes one bit per id up to the highest, %s bytes for these %s ids, and MEMORY "+
			"USAGE counts the string's allocation (its header, jemalloc's size class): %s bytes per visitor, exact, "+
			"for visitors whose ids are dense integers.", float64(n)/float64(book.keys), 100*float64(n)/float64(book.keys)/512,
			bytesIEC(float64(book.memoryUsage)/float64(book.keys)), bytesIEC(float64(full.memoryUsage)/float64(full.keys)),
			fill, ratio(float64(plain.memoryUsage)/float64(book.memoryUsage)),
			count((n-1)/8+1), count(n), perVisitor(float64(bitmap.memoryUsage)/visitors(bitmap))))

	s.Notes = append(s.Notes, fmt.Sprintf("Counting in bulk: one by one, each visit is a SADD on its shard's server "+
		"and, the visitor being new, an INCR on the counts server, two round trips one after the other (%s per "+
		"%s visits). `CountVisits` sends the SADDs as one pipeline per server, the servers in parallel, then "+
		"one INCRBY of the new visits (%s): %d round trips per batch, %d of them overlapped, against %s. The "+
		"servers still execute a SADD per visit; the bulk call saves the waits, %s here.",
		cmdSummary(bulk.cmds[0], bulk.turns), count(bulk.visits), cmdSummary(bulk.cmds[1], bulk.turns),
		uniquevisits.Shards+1, uniquevisits.Shards, count(2*bulk.visits), ratio(speedup)))

	// Totals rather than bytes per visitor: the HyperLogLog's share is far below a byte.
	p, err := barChart(fmt.Sprintf("Unique visitors: memory for %s visitors (log scale)", count(n)),
		"bytes", groups, []series{
			{Name: "MEMORY USAGE (sum over keys)", Values: mu, Color: blue},
			{Name: "used_memory growth", Values: um, Color: orange},
		}, true, []refLine{{Name: "book: 8 bytes per visitor", Y: 8 * float64(distinct), Color: grey}})
	if err != nil {
		return s, err
	}
	path, err := env.SaveChart("uniquevisits", p, chartW, chartH)
	if err != nil {
		return s, err
	}
	s.Charts = append(s.Charts, Chart{Title: "Unique visitors chart", Path: path})
	return s, nil
}
