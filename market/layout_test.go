package market_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/shard"
)

// keysOf returns the keys cmd names, by the commands the market sends.
func keysOf(cmd redis.Cmder) []string {
	args := cmd.Args()
	strs := func(a []any) []string {
		out := make([]string, len(a))
		for i, v := range a {
			out[i] = fmt.Sprint(v)
		}
		return out
	}
	switch strings.ToLower(cmd.Name()) {
	case "multi", "exec", "discard", "unwatch", "wait", "ping", "hello", "client", "select", "auth", "script",
		"cluster", "info", "readonly", "command":
		return nil
	case "watch", "exists":
		return strs(args[1:])
	case "eval", "evalsha":
		var n int
		fmt.Sscan(fmt.Sprint(args[2]), &n)
		return strs(args[3 : 3+n])
	}
	if len(args) < 2 {
		return nil
	}
	return strs(args[1:2])
}

// keyRecorder is a hook that records every key of every command sent, and counts the commands.
type keyRecorder struct {
	mu    sync.Mutex
	keys  map[string]bool
	names map[string]int
}

func newKeyRecorder() *keyRecorder {
	return &keyRecorder{keys: map[string]bool{}, names: map[string]int{}}
}

func (r *keyRecorder) record(cmds ...redis.Cmder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, cmd := range cmds {
		r.names[strings.ToLower(cmd.Name())]++
		for _, k := range keysOf(cmd) {
			r.keys[k] = true
		}
	}
}

func (r *keyRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.keys)
	clear(r.names)
}

// seen returns the keys recorded, sorted, and how often each command was sent.
func (r *keyRecorder) seen() ([]string, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ks := make([]string, 0, len(r.keys))
	for k := range r.keys {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks, maps.Clone(r.names)
}

func (r *keyRecorder) hook() redis.Hook {
	return hook{
		process: func(next redis.ProcessHook) redis.ProcessHook {
			return func(ctx context.Context, cmd redis.Cmder) error {
				r.record(cmd)
				return next(ctx, cmd)
			}
		},
		pipeline: func(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
			return func(ctx context.Context, cmds []redis.Cmder) error {
				r.record(cmds...)
				return next(ctx, cmds)
			}
		},
	}
}

// prefixOf is the key prefix Options.HashTag tag gives, as the package doc states it.
func prefixOf(tag string) string {
	if tag == "" {
		return ""
	}
	return "{" + tag + "}"
}

// tour runs every operation of both variants with layout tag on c: seller lists item, buyer buys
// it, buyer lists it, seller buys it back; then the queries. Data for it is set up on m.
func tour(ctx context.Context, m *miniredis.Miniredis, c redis.UniversalClient, tag, buyer, item, seller string) error {
	w, err := market.NewWatch(&market.Options{HashTag: tag})
	if err != nil {
		return err
	}
	s, err := market.NewScript(&market.Options{HashTag: tag})
	if err != nil {
		return err
	}
	p := prefixOf(tag)
	if m != nil {
		m.HSet(p+"users:"+buyer, "funds", "100")
		m.HSet(p+"users:"+seller, "funds", "100")
		m.SAdd(p+"inventory:"+seller, item)
	}
	_, e1 := w.ListItem(ctx, c, item, seller, 10)
	_, e2 := w.PurchaseItem(ctx, c, buyer, item, seller, 10)
	_, e3 := s.ListItem(ctx, c, item, buyer, 20)
	_, e4 := s.PurchaseItem(ctx, c, seller, item, buyer, 20)
	_, e5 := w.Cheapest(ctx, c, 10)
	_, e6 := s.Cheapest(ctx, c, 10)
	_, e7 := w.User(ctx, c, buyer)
	_, e8 := s.User(ctx, c, seller)
	return errors.Join(e1, e2, e3, e4, e5, e6, e7, e8)
}

func validID(id string) bool { return id != "" && !strings.Contains(id, ".") }

// FuzzKeyLayout: for any tag and ids, every key the market sends hashes to the tag's Redis Cluster
// slot (shard.Slot, CRC16 like Redis and go-redis) and starts with "{tag}"; with no tag the keys are
// exactly the book's. A tag with "{" or "}" is refused before any I/O, as are bad ids.
func FuzzKeyLayout(f *testing.F) {
	f.Add("", "27", "ItemM", "17")
	f.Add("market", "27", "ItemM", "17")
	f.Add("m", "b{1}", "i}x", "{s")
	f.Add("a b\x00", "é", "\xff", "x y")
	f.Add("a{b", "27", "ItemM", "17")
	f.Add("}", "27", "ItemM", "17")
	f.Add("market", "", "a.b", "17")
	f.Add("market", "same", "i", "same")
	m, c := newMini(f)
	rec := newKeyRecorder()
	c.AddHook(rec.hook())
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, tag, buyer, item, seller string) {
		m.FlushAll()
		rec.reset()
		if strings.ContainsAny(tag, "{}") {
			_, err := market.NewWatch(&market.Options{HashTag: tag})
			he, ok := err.(*market.HashTagError) // the error itself, not only something it wraps
			if !ok || he.Tag != tag || !errors.Is(err, market.ErrBadOption) ||
				!strings.Contains(err.Error(), "market.Options.HashTag") {
				t.Fatalf("tag %q: %v; want a *HashTagError naming market.Options.HashTag", tag, err)
			}
			return
		}
		if !validID(buyer) || !validID(item) || !validID(seller) {
			w := newWatch(&market.Options{HashTag: tag})
			s, err := market.NewScript(&market.Options{HashTag: tag})
			must(t, err)
			for _, m := range []market.Market{w, s} {
				_, err := m.PurchaseItem(ctx, c, buyer, item, seller, 1)
				if _, names := rec.seen(); !errors.Is(err, market.ErrInvalidID) || len(names) != 0 {
					t.Fatalf("ids %q %q %q: %v after %v; want ErrInvalidID before any command", buyer, item, seller, err, names)
				}
			}
			return
		}
		if err := tour(ctx, m, c, tag, buyer, item, seller); err != nil {
			t.Fatalf("tag %q ids %q %q %q: %v", tag, buyer, item, seller, err)
		}
		keys, _ := rec.seen()
		if tag == "" {
			want := []string{"inventory:" + buyer, "inventory:" + seller, "market:", "users:" + buyer, "users:" + seller}
			slices.Sort(want)
			want = slices.Compact(want)
			if !slices.Equal(keys, want) {
				t.Fatalf("book layout keys %q; want %q", keys, want)
			}
			return
		}
		slot := shard.Slot(prefixOf(tag))
		if len(keys) < 3 { // market:, one user and one inventory at least
			t.Fatalf("keys %q: too few", keys)
		}
		for _, k := range keys {
			if !strings.HasPrefix(k, prefixOf(tag)) || shard.Slot(k) != slot {
				t.Fatalf("tag %q: key %q in slot %d, want prefix %q and slot %d", tag, k, shard.Slot(k), prefixOf(tag), slot)
			}
		}
	})
}

// With a hash tag both variants run on a Ring, every key on one shard (go-redis hashes a ring key
// by its tag too); with the book's layout a Ring is ErrCrossSlot, and a durable Ring is ErrNoNode,
// both before any I/O.
func TestRing(t *testing.T) {
	ctx := context.Background()
	m1, m2 := miniredis.RunT(t), miniredis.RunT(t)
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:      map[string]string{"a": m1.Addr(), "b": m2.Addr()},
		MaxRetries: -1,
	})
	defer ring.Close()
	must(t, ring.HSet(ctx, "{market}users:b", "funds", "100").Err())
	must(t, ring.HSet(ctx, "{market}users:s", "funds", "100").Err())
	must(t, ring.SAdd(ctx, "{market}inventory:s", "i").Err())
	if err := tour(ctx, nil, ring, "market", "b", "i", "s"); err != nil {
		t.Fatal(err)
	}
	k1, k2 := m1.Keys(), m2.Keys()
	// market: is empty at the end, and so is the buyer's inventory.
	if len(k1)+len(k2) != 3 || (len(k1) != 0 && len(k2) != 0) {
		t.Fatalf("keys: %q and %q; want all 3 on one shard", k1, k2)
	}
	if f, err := ring.HGet(ctx, "{market}users:s", "funds").Result(); err != nil || f != "90" {
		t.Fatalf("seller's funds %s, %v after selling at 10 and buying back at 20; want 90", f, err)
	}

	dead := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer dead.Close()
	for _, v := range variants {
		_, err := v.m.ListItem(ctx, dead, "i", "s", 5)
		wantErr(t, err, market.ErrCrossSlot)
	}
	w := newWatch(&market.Options{HashTag: "market", Durable: market.Durability{Replicas: 1}})
	s, err := market.NewScript(&market.Options{HashTag: "market", Durable: market.Durability{Replicas: 1}})
	must(t, err)
	for _, m := range []market.Market{w, s} {
		_, err := m.PurchaseItem(ctx, dead, "b", "i", "s", 5)
		wantErr(t, err, market.ErrNoNode)
		if errors.Is(err, market.ErrNotDurable) || errors.Is(err, market.ErrUnknownOutcome) {
			t.Fatalf("%T: %v; want nothing written", m, err)
		}
	}
}

// NewScript and NewWatch refuse the same options, naming the field.
func TestNewScriptOptions(t *testing.T) {
	for _, tc := range []struct {
		opt   market.Options
		field string
	}{
		{market.Options{ListTimeout: -2}, "ListTimeout"},
		{market.Options{Durable: market.Durability{Replicas: -2}}, "Durable.Replicas"},
		{market.Options{Durable: market.Durability{Replicas: 1, Timeout: -3}}, "Durable.Timeout"},
	} {
		s, err := market.NewScript(&tc.opt)
		var oe *market.OptionError
		if s != nil || !errors.As(err, &oe) || oe.Field != tc.field || !errors.Is(err, market.ErrBadOption) {
			t.Errorf("%+v: %v, %v; want an *OptionError on %s", tc.opt, s, err, tc.field)
		}
		w, err := market.NewWatch(&tc.opt)
		checkOptionError(t, w, err, tc.field)
	}
	for _, tag := range []string{"{", "}", "a{b", "a}b", "{market}"} {
		_, err := market.NewScript(&market.Options{HashTag: tag})
		var he *market.HashTagError
		if !errors.As(err, &he) || he.Tag != tag {
			t.Errorf("HashTag %q: %v; want a *HashTagError", tag, err)
		}
	}
	s, err := market.NewScript(nil)
	if err != nil || s == nil {
		t.Fatalf("NewScript(nil) = %v, %v", s, err)
	}
}
