package market_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
)

// durableVariants are both implementations in the durable mode d.
func durableVariants(t testing.TB, tag string, d market.Durability) []struct {
	name string
	m    market.Market
} {
	s, err := market.NewScript(&market.Options{HashTag: tag, Durable: d})
	must(t, err)
	return []struct {
		name string
		m    market.Market
	}{
		{"watch", newWatch(&market.Options{HashTag: tag, Durable: d})},
		{"script", s},
	}
}

// wantNotDurable checks err is an applied write's not-confirmed outcome: ErrNotDurable with the
// counts, never an unknown outcome or a refusal.
func wantNotDurable(t testing.TB, err error, confirmed int) {
	t.Helper()
	var de *market.DurableError
	if !errors.Is(err, market.ErrNotDurable) || !errors.As(err, &de) || de.Replicas != confirmed || de.Wanted != 1 {
		t.Fatalf("err = %v; want ErrNotDurable, %d of 1 replicas", err, confirmed)
	}
	for _, other := range []error{market.ErrUnknownOutcome, market.ErrNotListed, market.ErrNotInInventory} {
		if errors.Is(err, other) {
			t.Fatalf("err = %v also matches %v", err, other)
		}
	}
}

// The durable mode on a master and its replica: a confirmed write is on the replica when the call
// returns; with the replica paused the write is applied on the master, its result filled in, and the
// error is ErrNotDurable. One WAIT per write; none in the default mode.
func TestDurable(t *testing.T) {
	ctx := context.Background()
	r := redistest.RunReplicatedT(t, nil)
	must(t, redistest.WaitLinkUp(ctx, r.Replica))
	c := r.Master.Client(t)
	replica := r.Replica.Client(t)
	rec := newKeyRecorder()
	c.AddHook(rec.hook())

	for _, v := range durableVariants(t, "", market.Durability{Replicas: 1, Timeout: 5 * time.Second}) {
		t.Run(v.name, func(t *testing.T) {
			must(t, c.FlushAll(ctx).Err())
			setUser(t, c, "17", "Frank", "100", "ItemM")
			setUser(t, c, "27", "Bill", "100")
			rec.reset()
			if _, err := v.m.ListItem(ctx, c, "ItemM", "17", 10); err != nil {
				t.Fatalf("confirmed list: %v", err)
			}
			// One WAIT with each write sent, and more only if a round fell short (how many rounds is
			// the replica's timing).
			if _, names := rec.seen(); names["wait"] < names["exec"]+names["evalsha"]+names["eval"] || names["wait"] == 0 {
				t.Fatalf("commands %v; want a WAIT after each EXEC, EVALSHA or EVAL", names)
			}
			// Confirmed: the replica has it now, without waiting.
			if s, err := replica.ZScore(ctx, "market:", "ItemM.17").Result(); err != nil || s != 10 {
				t.Fatalf("replica's listing: %v, %v", s, err)
			}

			must(t, r.Replica.Pause())
			defer r.Replica.Resume()
			slow := durableVariants(t, "", market.Durability{Replicas: 1, Timeout: 100 * time.Millisecond})
			m := slow[0].m
			if v.name == "script" {
				m = slow[1].m
			}
			p, err := m.PurchaseItem(ctx, c, "27", "ItemM", "17", 10)
			wantNotDurable(t, err, 0)
			if p != (market.Purchase{Buyer: "27", Item: "ItemM", Seller: "17", Price: 10}) {
				t.Fatalf("purchase %+v; want it filled in", p)
			}
			if ok, err := c.SIsMember(ctx, "inventory:27", "ItemM").Result(); err != nil || !ok {
				t.Fatalf("the purchase is not on the master: %v, %v", ok, err)
			}
			l, err := m.ListItem(ctx, c, "ItemM", "27", 20)
			wantNotDurable(t, err, 0)
			if l.Member != "ItemM.27" || l.Price != 20 {
				t.Fatalf("listing %+v; want it filled in", l)
			}

			// ctx's deadline ends a wait with no Timeout of its own: both errors match.
			unbounded := durableVariants(t, "", market.Durability{Replicas: 1, Timeout: -1})
			m = unbounded[0].m
			if v.name == "script" {
				m = unbounded[1].m
			}
			cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_, err = m.PurchaseItem(cctx, c, "17", "ItemM", "27", 20)
			wantErr(t, err, market.ErrNotDurable)
			wantErr(t, err, context.DeadlineExceeded)
			must(t, r.Replica.Resume())
		})
	}

	t.Run("default mode sends no WAIT", func(t *testing.T) {
		must(t, c.FlushAll(ctx).Err())
		setUser(t, c, "17", "Frank", "100", "ItemM")
		setUser(t, c, "27", "Bill", "100")
		rec.reset()
		for _, v := range variants {
			must(t, errors.Join(ignore(v.m.ListItem(ctx, c, "ItemM", "17", 10)),
				ignore(v.m.PurchaseItem(ctx, c, "27", "ItemM", "17", 10)),
				ignore(v.m.ListItem(ctx, c, "ItemM", "27", 10)),
				ignore(v.m.PurchaseItem(ctx, c, "17", "ItemM", "27", 10))))
		}
		if _, names := rec.seen(); names["wait"] != 0 || names["exec"] != 4 || names["evalsha"] != 4 {
			t.Fatalf("commands %v; want 4 EXEC, 4 EVALSHA, no WAIT", names)
		}
	})

	// A server without the script: EVALSHA and its WAIT, then EVAL and a WAIT of its own.
	t.Run("NOSCRIPT", func(t *testing.T) {
		must(t, c.FlushAll(ctx).Err())
		must(t, c.ScriptFlush(ctx).Err())
		setUser(t, c, "17", "Frank", "100", "ItemM")
		rec.reset()
		s := durableVariants(t, "", market.Durability{Replicas: 1, Timeout: 5 * time.Second})[1].m
		if _, err := s.ListItem(ctx, c, "ItemM", "17", 10); err != nil {
			t.Fatal(err)
		}
		if _, names := rec.seen(); names["evalsha"] != 1 || names["eval"] != 1 || names["wait"] < 2 {
			t.Fatalf("commands %v; want EVALSHA, EVAL, and a WAIT with each", names)
		}
	})

	// A refusal wrote nothing: it needs no confirmation and is not ErrNotDurable.
	t.Run("refusal", func(t *testing.T) {
		must(t, r.Replica.Pause())
		defer r.Replica.Resume()
		for _, v := range durableVariants(t, "", market.Durability{Replicas: 1, Timeout: 100 * time.Millisecond}) {
			_, err := v.m.PurchaseItem(ctx, c, "27", "Nothing", "17", 10)
			wantErr(t, err, market.ErrNotListed)
			if errors.Is(err, market.ErrNotDurable) {
				t.Fatalf("%s: %v", v.name, err)
			}
		}
	})
}

func ignore[T any](_ T, err error) error { return err }
