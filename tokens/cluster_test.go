package tokens_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/tokens"
)

// nodePipelines counts the pipelines each cluster node receives (by node address).
type nodePipelines struct {
	mu      sync.Mutex
	addr    string
	seen    map[string]int
	waits   int // WAITs, alone or in a pipeline
	notLast int // pipelines where a command followed the WAIT
}

func (h *nodePipelines) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *nodePipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "wait" {
			h.mu.Lock()
			h.waits++
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}
func (h *nodePipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && (cmds[0].Name() == "hello" || cmds[0].Name() == "auth" || cmds[0].Name() == "client") {
			return next(ctx, cmds) // a new connection's setup
		}
		h.mu.Lock()
		h.seen[h.addr]++
		for i, c := range cmds {
			if c.Name() == "wait" {
				h.waits++
				if i != len(cmds)-1 {
					h.notLast++
				}
			}
		}
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// TestRealCluster runs both update functions on a real Redis Cluster (3 masters, a replica each) and
// checks the book's data afterwards: login: maps each token to its user, recent: scores each token by
// its last update's timestamp, viewed:<token> keeps the latest Keep items with their timestamps, and
// viewed: holds minus each item's view count. The four keys hash to different slots and, here, to
// more than one node, so UpdateTokenPipeline's pipeline is split by go-redis into one pipeline per
// node: the test checks that each such node got exactly one pipeline per call, and that the data is
// the same as UpdateToken's, command by command. It does so with an Updater, with the package's
// functions (the book's Keep of 25), and in the durable mode, where each key's commands go in a
// pipeline of their own to the key's master, ending with a WAIT, and UpdateToken sends one WAIT per
// node it wrote to; the other two send no WAIT.
func TestRealCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var tick atomic.Int64
	start := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Second) }
	for _, mode := range []struct {
		name    string
		keep    int
		durable bool
		plain   updateFunc
		piped   updateFunc
	}{
		{"Updater", 3, false, nil, nil},
		{"package functions", 25, false, tokens.UpdateToken, tokens.UpdateTokenPipeline},
		{"durable", 3, true, nil, nil},
	} {
		t.Run(mode.name, func(t *testing.T) {
			opt := &tokens.Options{Keep: mode.keep, Now: now}
			if mode.durable {
				opt.Durable = tokens.Durability{Replicas: 1, Timeout: 5 * time.Second}
			}
			if mode.plain == nil {
				u := newUpdater(opt)
				mode.plain, mode.piped = u.UpdateToken, u.UpdateTokenPipeline
			}
			clusterUpdates(ctx, t, mode.keep, mode.durable, mode.plain, mode.piped)
		})
	}
}

func clusterUpdates(ctx context.Context, t *testing.T, keep int, durable bool, plain, piped updateFunc) {
	rc := shared.Cluster(t)
	cc := rc.Client(t) // never retries: a retried ZINCRBY would count a view twice

	keyNodes := map[string]string{}
	for _, k := range []string{"login:", "recent:", "viewed:", "viewed:tok-a", "viewed:tok-b", "viewed:tok-c"} {
		n, err := rc.NodeForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		keyNodes[k] = n.Addr()
	}
	distinct := func(keys ...string) int {
		var addrs []string
		for _, k := range keys {
			addrs = append(addrs, keyNodes[k])
		}
		slices.Sort(addrs)
		return len(slices.Compact(addrs))
	}
	if distinct("login:", "recent:", "viewed:") < 2 {
		t.Fatalf("login:, recent: and viewed: all on one node (%v); the test would not cross nodes", keyNodes)
	}

	hooks := map[string]*nodePipelines{}
	var hooksMu sync.Mutex
	cc.OnNewNode(func(n *redis.Client) {
		h := &nodePipelines{addr: n.Options().Addr, seen: map[string]int{}}
		hooksMu.Lock()
		hooks[h.addr] = h
		hooksMu.Unlock()
		n.AddHook(h)
	})
	// pipelines returns the pipelines per node, the WAITs, and the pipelines a WAIT did not end.
	pipelines := func() (map[string]int, int, int) {
		hooksMu.Lock()
		defer hooksMu.Unlock()
		out := map[string]int{}
		waits, notLast := 0, 0
		for addr, h := range hooks {
			h.mu.Lock()
			if h.seen[addr] > 0 {
				out[addr] = h.seen[addr]
			}
			h.seen[addr] = 0
			waits, notLast = waits+h.waits, notLast+h.notLast
			h.waits, h.notLast = 0, 0
			h.mu.Unlock()
		}
		return out, waits, notLast
	}
	if err := cc.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	type last struct {
		user string
		ts   float64
	}
	want := map[string]last{}
	viewedItems := map[string][]string{}        // token -> items in view order
	viewedTS := map[string]map[string]float64{} // token -> item -> timestamp
	views := map[string]int{}
	users := map[string]string{"tok-a": "alice", "tok-b": "bob", "tok-c": "carol"}
	for i := 0; i < 24; i++ {
		token := []string{"tok-a", "tok-b", "tok-c"}[i%3]
		item := fmt.Sprint("item:", i%5)
		if i%7 == 6 {
			item = "" // a login without a view
		}
		update := plain
		pipelined := i%2 == 1
		if pipelined {
			update = piped
		}
		pipelines()
		up, err := update(ctx, cc, token, users[token], item)
		if err != nil {
			t.Fatalf("update %d (%s, pipeline %v): %v", i, token, pipelined, err)
		}
		keys := []string{"login:", "recent:"}
		if item != "" {
			keys = append(keys, "viewed:"+token, "viewed:")
		}
		got, waits, notLast := pipelines()
		switch {
		case !durable && waits != 0:
			t.Errorf("update %d: %d WAITs; want none", i, waits)
		case durable && pipelined && (waits != len(keys) || notLast != 0):
			t.Errorf("update %d: %d WAITs (%d not last); want one ending each key's pipeline, %d", i, waits, notLast, len(keys))
		case durable && !pipelined && waits < distinct(keys...):
			t.Errorf("update %d: %d WAITs; want one per node written, %d", i, waits, distinct(keys...))
		}
		if pipelined {
			perNode := map[string]int{} // durable: a pipeline per key
			for _, k := range keys {
				perNode[keyNodes[k]]++
			}
			if len(got) != distinct(keys...) {
				t.Errorf("update %d: pipelines per node %v; want one on each of the %d nodes holding %v", i, got, distinct(keys...), keys)
			}
			for addr, n := range got {
				if w := map[bool]int{false: 1, true: perNode[addr]}[durable]; n != w {
					t.Errorf("update %d: node %s got %d pipelines; want %d", i, addr, n, w)
				}
			}
		}
		want[token] = last{users[token], up.Timestamp}
		if item != "" {
			viewedItems[token] = append(slices.DeleteFunc(viewedItems[token], func(s string) bool { return s == item }), item)
			if viewedTS[token] == nil {
				viewedTS[token] = map[string]float64{}
			}
			viewedTS[token][item] = up.Timestamp
			views[item]++
		}
	}

	for token, w := range want {
		if got, err := cc.HGet(ctx, "login:", token).Result(); err != nil || got != w.user {
			t.Errorf("HGET login: %s = %q, %v; want %q", token, got, err, w.user)
		}
		if got, err := cc.ZScore(ctx, "recent:", token).Result(); err != nil || got != w.ts {
			t.Errorf("ZSCORE recent: %s = %v, %v; want %v", token, got, err, w.ts)
		}
		items := viewedItems[token]
		if len(items) > keep {
			items = items[len(items)-keep:]
		}
		got, err := cc.ZRangeWithScores(ctx, "viewed:"+token, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(items) {
			t.Errorf("viewed:%s = %v; want the latest %d items %v", token, got, keep, items)
			continue
		}
		for i, z := range got {
			if z.Member != items[i] || z.Score != viewedTS[token][items[i]] {
				t.Errorf("viewed:%s[%d] = %v %v; want %s %v", token, i, z.Member, z.Score, items[i], viewedTS[token][items[i]])
			}
		}
	}
	if n, err := cc.ZCard(ctx, "recent:").Result(); err != nil || n != int64(len(want)) {
		t.Errorf("ZCARD recent: = %d, %v; want %d", n, err, len(want))
	}
	for item, n := range views {
		if got, err := cc.ZScore(ctx, "viewed:", item).Result(); err != nil || got != -float64(n) {
			t.Errorf("ZSCORE viewed: %s = %v, %v; want %d", item, got, err, -n)
		}
	}
	if n, err := cc.ZCard(ctx, "viewed:").Result(); err != nil || n != int64(len(views)) {
		t.Errorf("ZCARD viewed: = %d, %v; want %d", n, err, len(views))
	}
}
