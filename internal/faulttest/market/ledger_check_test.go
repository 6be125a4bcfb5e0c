package market_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// recorder collects what the audit reports, so that its own test can check it catches each lie.
type recorder struct{ msgs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

// startState is the data before any call: every item with its first owner.
func startState() state {
	st := state{funds: make([]int64, users), where: make([]loc, items)}
	for u := range users {
		st.funds[u] = startFunds(u)
	}
	for i := range items {
		st.where[i] = loc{user: int16(owner0(i))}
	}
	return st
}

// TestLedgerCatchesLies runs the audit on small made-up histories: it must accept the true ones and
// name what is wrong in the others. Item i8 starts with u1; u1 lists it at 5, u2 (and u3) buy it.
func TestLedgerCatchesLies(t *testing.T) {
	lst := func(c class, start, end int64) *op {
		return &op{kind: list, class: c, user: 1, item: 8, price: 5, start: start, end: end}
	}
	buyBy := func(u int16, c class, start, end int64) *op {
		return &op{kind: buy, class: c, user: u, seller: 1, item: 8, price: 5, start: start, end: end}
	}
	bought := func(buyer int16) state { // u1 listed i8 and buyer bought it
		st := startState()
		st.where[8] = loc{user: buyer}
		st.funds[1] += 5
		st.funds[buyer] -= 5
		return st
	}
	listed := func() state {
		st := startState()
		st.where[8] = loc{listed: true, user: 1, price: 5}
		return st
	}
	for _, tc := range []struct {
		name    string
		ops     []*op
		st      state
		want    string // in a reported error; "" for none
		done    int    // unknown outcomes resolved done, when want is ""
		notDone int
	}{
		{"true history", []*op{lst(ok, 10, 20), buyBy(2, ok, 30, 40)}, bought(2), "", 0, 0},
		{"unknown purchase happened", []*op{lst(ok, 10, 20), buyBy(2, unknown, 30, 40)}, bought(2), "", 1, 0},
		{"unknown purchase did not happen", []*op{lst(ok, 10, 20), buyBy(2, unknown, 30, 40)}, listed(), "", 0, 1},
		{"two unknown buyers, the second won",
			[]*op{lst(ok, 10, 20), buyBy(2, unknown, 30, 40), buyBy(3, unknown, 31, 41)}, bought(3), "", 1, 1},
		{"unknown listing that ran after its caller gave up", // it can only follow the purchase
			[]*op{lst(ok, 10, 20), buyBy(2, ok, 30, 40), {kind: list, class: unknown, user: 2, item: 8, price: 6, start: 25, end: 28}},
			func() state { st := bought(2); st.where[8] = loc{listed: true, user: 2, price: 6}; return st }(), "", 1, 0},
		{"acknowledged listing before the purchase that gave the item",
			[]*op{lst(ok, 10, 20), buyBy(2, ok, 30, 40), {kind: list, class: ok, user: 2, item: 8, price: 6, start: 25, end: 28}},
			func() state { st := bought(2); st.where[8] = loc{listed: true, user: 2, price: 6}; return st }(), "no history", 0, 0},
		{"acknowledged purchase not in the data", []*op{lst(ok, 10, 20), buyBy(2, ok, 30, 40)}, listed(),
			"no history", 0, 0},
		{"refused purchase happened", []*op{lst(ok, 10, 20), buyBy(2, refused, 30, 40)}, bought(2),
			"reported refused happened", 0, 0},
		{"failed listing happened", []*op{lst(failed, 10, 20), buyBy(2, unknown, 30, 40)}, bought(2),
			"reported failed happened", 0, 0},
		{"sold twice", []*op{lst(ok, 10, 20), buyBy(2, ok, 30, 40), buyBy(3, ok, 35, 45)}, bought(2),
			"sold 2 times", 0, 0},
		{"purchase acknowledged before the listing", []*op{lst(ok, 10, 20), buyBy(2, ok, 5, 8)}, bought(2),
			"no history", 0, 0},
		{"money created", []*op{lst(ok, 10, 20), buyBy(2, ok, 30, 40)},
			func() state { st := bought(2); st.funds[2] += 5; return st }(), "total funds", 0, 0},
		{"money paid by the wrong user", []*op{lst(ok, 10, 20), buyBy(2, ok, 30, 40)},
			func() state { st := bought(2); st.funds[2] += 5; st.funds[3] -= 5; return st }(), "funds", 0, 0},
		{"purchase of a listing never made", []*op{buyBy(2, ok, 30, 40)}, bought(2), "never made", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r recorder
			rep := auditLedger(&r, tc.ops, tc.st, nil)
			got := strings.Join(r.msgs, "\n")
			switch {
			case tc.want == "" && len(r.msgs) > 0:
				t.Fatalf("reported:\n%s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Fatalf("reported %q; want an error containing %q", got, tc.want)
			case tc.want == "" && (rep.unknownDone != tc.done || rep.unknownNotDone != tc.notDone):
				t.Fatalf("unknown outcomes resolved %d done, %d not; want %d, %d",
					rep.unknownDone, rep.unknownNotDone, tc.done, tc.notDone)
			}
		})
	}
}

// TestReadStateCatchesMisplacedItems checks the data's shape checks on a miniredis holding the layout.
func TestReadStateCatchesMisplacedItems(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) *redis.Client {
		m := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { c.Close() })
		for u := range users {
			c.HSet(ctx, "users:"+userID(u), "funds", startFunds(u))
			for i := u * itemsPerUser; i < (u+1)*itemsPerUser; i++ {
				c.SAdd(ctx, "inventory:"+userID(u), itemID(i))
			}
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		change func(c *redis.Client)
		want   string
	}{
		{"as set up", func(*redis.Client) {}, ""},
		{"item in two inventories", func(c *redis.Client) { c.SAdd(ctx, "inventory:u2", "i8") }, "in 2 places"},
		{"item listed and owned", func(c *redis.Client) {
			c.ZAdd(ctx, "market:", redis.Z{Score: 5, Member: "i8.u1"})
		}, "in 2 places"},
		{"item gone", func(c *redis.Client) { c.SRem(ctx, "inventory:u1", "i8") }, "in 0 places"},
		{"stranger key", func(c *redis.Client) { c.Set(ctx, "users:u99", "x", 0) }, "unexpected key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t)
			tc.change(c)
			var r recorder
			st, good := readState(ctx, &r, c)
			got := strings.Join(r.msgs, "\n")
			if tc.want == "" {
				if !good || got != "" {
					t.Fatalf("reported %q", got)
				}
				if st.where[8] != (loc{user: 1}) || st.funds[3] != richFunds {
					t.Fatalf("read %v and funds %d", st.where[8], st.funds[3])
				}
				return
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("reported %q; want an error containing %q", got, tc.want)
			}
		})
	}
}
