package market_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// loc is where an item is: in a user's inventory, or listed in market: by a seller at a price.
type loc struct {
	listed bool
	user   int16
	price  int64
}

func (l loc) String() string {
	if l.listed {
		return fmt.Sprintf("market: (seller %s, price %d)", userID(int(l.user)), l.price)
	}
	return "inventory:" + userID(int(l.user))
}

// state is the data at the end.
type state struct {
	funds []int64
	where []loc // by item
}

// reporter is the part of *testing.T the audit uses, so that its own test can catch what it reports.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// readState reads every key and checks the data's shape: only the market's keys, integer funds, every
// item in exactly one place (one inventory, or listed once).
func readState(ctx context.Context, t reporter, c *redis.Client) (state, bool) {
	t.Helper()
	st := state{funds: make([]int64, users), where: make([]loc, items)}
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Errorf("KEYS: %v", err)
		return st, false
	}
	want := map[string]bool{"market:": true}
	for u := range users {
		want["users:"+userID(u)] = true
		want["inventory:"+userID(u)] = true
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %q", k)
		}
	}
	places := make([][]string, items)
	item := func(id string) int {
		n, err := strconv.Atoi(strings.TrimPrefix(id, "i"))
		if !strings.HasPrefix(id, "i") || err != nil || n < 0 || n >= items {
			t.Errorf("unknown item %q", id)
			return -1
		}
		return n
	}
	for u := range users {
		f, err := c.HGet(ctx, "users:"+userID(u), "funds").Int64()
		if err != nil {
			t.Errorf("users:%s funds: %v", userID(u), err)
			return st, false
		}
		st.funds[u] = f
		inv, err := c.SMembers(ctx, "inventory:"+userID(u)).Result()
		if err != nil {
			t.Errorf("SMEMBERS: %v", err)
			return st, false
		}
		for _, id := range inv {
			i := item(id)
			if i < 0 {
				return st, false
			}
			st.where[i] = loc{user: int16(u)}
			places[i] = append(places[i], "inventory:"+userID(u))
		}
	}
	listings, err := c.ZRangeWithScores(ctx, "market:", 0, -1).Result()
	if err != nil {
		t.Errorf("ZRANGE: %v", err)
		return st, false
	}
	for _, z := range listings {
		mem := z.Member.(string)
		id, seller, _ := strings.Cut(mem, ".")
		i := item(id)
		u, err := strconv.Atoi(strings.TrimPrefix(seller, "u"))
		if i < 0 || err != nil || u < 0 || u >= users || z.Score != math.Trunc(z.Score) {
			t.Errorf("bad listing %q at %v", mem, z.Score)
			return st, false
		}
		st.where[i] = loc{listed: true, user: int16(u), price: int64(z.Score)}
		places[i] = append(places[i], fmt.Sprintf("market: %s at %d", mem, int64(z.Score)))
	}
	good := true
	for i, p := range places {
		if len(p) != 1 {
			t.Errorf("item %s is in %d places %v; want exactly one", itemID(i), len(p), p)
			good = false
		}
	}
	return st, good
}

// report is what the audit found.
type report struct {
	ops            int
	classes        [nClasses]int
	byCall         map[string]*[nClasses]int // "watch buy" -> outcomes
	unknownDone    int                       // unknown outcomes that happened
	unknownNotDone int                       // unknown outcomes that did not
	byFault        map[string]*[3]int        // unknown outcomes by the fault on at the time: done, not done; failed
	listed, sold   int                       // listings and purchases that happened
	ambiguous      int                       // items with more than one explanation before funds were compared
	steps          int                       // search steps
}

func (r report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "outcomes: %d ok, %d refused, %d failed before commit, %d unknown;", r.classes[ok],
		r.classes[refused], r.classes[failed], r.classes[unknown])
	fmt.Fprintf(&b, " unknown resolved: %d happened, %d did not;", r.unknownDone, r.unknownNotDone)
	fmt.Fprintf(&b, " %d listings and %d sales happened; %d items needed the funds to decide; %d search steps",
		r.listed, r.sold, r.ambiguous, r.steps)
	calls := make([]string, 0, len(r.byCall))
	for k := range r.byCall {
		calls = append(calls, k)
	}
	slices.Sort(calls)
	for _, k := range calls {
		c := r.byCall[k]
		fmt.Fprintf(&b, "\n  %-12s ok %7d  refused %7d  failed %5d  unknown %5d", k, c[ok], c[refused], c[failed], c[unknown])
	}
	faults := make([]string, 0, len(r.byFault))
	for k := range r.byFault {
		faults = append(faults, k)
	}
	slices.Sort(faults)
	for _, k := range faults {
		c := r.byFault[k]
		fmt.Fprintf(&b, "\n  %-18s unknown: %4d happened, %4d did not; failed before commit: %4d", k, c[0], c[1], c[2])
	}
	return b.String()
}

// listingKey names a listing: the price alone is unique, item and seller are checked too.
type listingKey struct {
	item   int32
	seller int16
	price  int64
}

// itemSearch finds the histories of one item that explain the data: a chain of calls
//
//	inventory:A --list by A at p1--> market: --buy by B at p1--> inventory:B --list by B at p2--> ...
//
// ending where the item is now, that contains every acknowledged call on the item and no refused or
// failed one, with effect times that increase along the chain and lie within [start, end] for an
// acknowledged call and after start for an unknown one (a request can run after its caller gave up).
type itemSearch struct {
	item     int32
	lists    map[int16][]*op      // candidate listings by seller, by start
	buys     map[listingKey][]*op // candidate purchases by the listing they name
	must     []*op                // the acknowledged calls, by end
	final    loc
	steps    int
	budget   int
	mustUsed int
	chain    []*op
	found    [][]*op // distinct solutions
	seen     map[string]bool
}

const maxSolutions = 4

func (s *itemSearch) dfs(inv bool, user int16, listing *op, eff int64, mi int) {
	s.steps++
	if s.steps > s.budget || len(s.found) >= maxSolutions {
		return
	}
	for mi < len(s.must) && s.must[mi].mark {
		mi++
	}
	if mi < len(s.must) && s.must[mi].end <= eff {
		return // an acknowledged call can no longer fit after this point
	}
	if s.mustUsed == len(s.must) && s.matchesFinal(inv, user, listing) {
		s.record()
	}
	try := func(o *op, next func(e int64)) {
		if o.mark {
			return
		}
		e := max(eff+1, o.start)
		if o.class == ok && e > o.end {
			return
		}
		o.mark = true
		if o.class == ok {
			s.mustUsed++
		}
		s.chain = append(s.chain, o)
		next(e)
		s.chain = s.chain[:len(s.chain)-1]
		if o.class == ok {
			s.mustUsed--
		}
		o.mark = false
	}
	if inv {
		for _, l := range s.lists[user] {
			try(l, func(e int64) { s.dfs(false, -1, l, e, mi) })
		}
		return
	}
	// A buyer may have tried the listing more than once. Those calls have the same effect, so only one
	// is tried: the acknowledged one if any, else the earliest, whose effect can come soonest. Trying
	// each would search the same histories again, for every such buyer along the chain.
	cands := s.buys[listingKey{listing.item, listing.user, listing.price}]
	for i, b := range cands {
		if b.mark || !s.bestOfBuyer(cands, i) {
			continue
		}
		try(b, func(e int64) { s.dfs(true, b.user, nil, e, mi) })
	}
}

// bestOfBuyer reports whether cands[i] is the one call of its buyer to try (cands are by start).
func (s *itemSearch) bestOfBuyer(cands []*op, i int) bool {
	b := cands[i]
	for j, o := range cands {
		if j == i || o.mark || o.user != b.user {
			continue
		}
		if (o.class == ok) != (b.class == ok) {
			if o.class == ok {
				return false
			}
			continue
		}
		if j < i {
			return false
		}
	}
	return true
}

func (s *itemSearch) matchesFinal(inv bool, user int16, listing *op) bool {
	if inv {
		return !s.final.listed && s.final.user == user
	}
	return s.final.listed && s.final.user == listing.user && s.final.price == listing.price
}

// record keeps the current chain if no solution found so far has the same effect: the same listings
// and sales. Two identical calls (a buyer who tried a listing twice, both unknown) are one answer.
func (s *itemSearch) record() {
	ids := make([]string, len(s.chain))
	for i, o := range s.chain {
		ids[i] = fmt.Sprintf("%v %d %d %d", o.kind, o.user, o.seller, o.price)
	}
	slices.Sort(ids)
	key := strings.Join(ids, ",")
	if s.seen[key] {
		return
	}
	s.seen[key] = true
	s.found = append(s.found, slices.Clone(s.chain))
}

const searchBudget = 20_000_000

func newSearch(item int32, ops []*op, final loc, allow func(*op) bool) *itemSearch {
	s := &itemSearch{item: item, lists: map[int16][]*op{}, buys: map[listingKey][]*op{}, final: final,
		budget: searchBudget, seen: map[string]bool{}}
	for _, o := range ops {
		if !allow(o) {
			continue
		}
		if o.class == ok {
			s.must = append(s.must, o)
		}
		if o.kind == list {
			s.lists[o.user] = append(s.lists[o.user], o)
		} else {
			k := listingKey{o.item, o.seller, o.price}
			s.buys[k] = append(s.buys[k], o)
		}
	}
	slices.SortFunc(s.must, func(a, b *op) int { return int(a.end - b.end) })
	return s
}

func (s *itemSearch) run() {
	s.dfs(true, int16(owner0(int(s.item))), nil, -1, 0)
}

// auditLedger explains the final data by the calls' outcomes, item by item, then checks every
// user's funds against the sales in that explanation. It fails the test if
//   - total funds are not what they were, or a user's funds are not explained exactly;
//   - an acknowledged call did not happen, or a refused or failed one did (the data needs it);
//   - a listing was sold twice (two acknowledged purchases, or the data needs two);
//   - an item is not where its history leads.
//
// Every unknown outcome is resolved: it happened if the explanation contains it.
func auditLedger(t reporter, ops []*op, st state, eps []episode) report {
	t.Helper()
	rep := report{ops: len(ops), byCall: map[string]*[nClasses]int{}, byFault: map[string]*[3]int{}}
	var total, want int64
	for u := range users {
		total += st.funds[u]
		want += startFunds(u)
	}
	if total != want {
		t.Errorf("total funds %d; want %d (conserved)", total, want)
	}

	perItem := make([][]*op, items)
	candidate := map[listingKey]bool{}
	for _, o := range ops {
		rep.classes[o.class]++
		k := o.variant.String() + " " + o.kind.String()
		if rep.byCall[k] == nil {
			rep.byCall[k] = new([nClasses]int)
		}
		rep.byCall[k][o.class]++
		perItem[o.item] = append(perItem[o.item], o)
		if o.kind == list && (o.class == ok || o.class == unknown) {
			candidate[listingKey{o.item, o.user, o.price}] = true
		}
	}
	// Plain checks first, for clear messages.
	bad := false
	ackedBuys := map[listingKey][]*op{}
	for _, o := range ops {
		if o.kind != buy || o.class != ok {
			continue
		}
		k := listingKey{o.item, o.seller, o.price}
		if !candidate[k] {
			t.Errorf("acknowledged purchase of a listing that was never made (or refused): %s", o)
			bad = true
		}
		ackedBuys[k] = append(ackedBuys[k], o)
	}
	for k, bs := range ackedBuys {
		if len(bs) > 1 {
			t.Errorf("listing %s.%s at %d sold %d times: %v", itemID(int(k.item)), userID(int(k.seller)), k.price, len(bs), bs)
			bad = true
		}
	}
	if bad {
		return rep
	}

	for _, its := range perItem {
		slices.SortFunc(its, func(a, b *op) int { return cmp.Compare(a.start, b.start) })
	}
	possible := func(o *op) bool { return o.class == ok || o.class == unknown }
	solutions := make([][][]*op, items)
	for i := range items {
		s := newSearch(int32(i), perItem[i], st.where[i], possible)
		s.run()
		rep.steps += s.steps
		if len(s.found) == 0 {
			diagnose(t, int32(i), perItem[i], st.where[i], s.steps > s.budget)
			bad = true
			continue
		}
		solutions[i] = s.found
		if len(s.found) > 1 {
			rep.ambiguous++
		}
	}
	if bad {
		return rep
	}

	// Funds: choose one explanation per item (almost always there is one) so that every user's funds
	// are the start plus sales minus purchases, exactly.
	choice := chooseByFunds(solutions, st.funds)
	if choice == nil {
		t.Errorf("no explanation of the items' histories gives the users' funds %v", st.funds)
		return rep
	}
	for i, sols := range solutions {
		for _, o := range sols[choice[i]] {
			o.done = true
		}
	}
	for _, o := range ops {
		if o.class != unknown && o.class != failed {
			continue
		}
		f := during(eps, o.start, o.end)
		if rep.byFault[f] == nil {
			rep.byFault[f] = new([3]int)
		}
		switch {
		case o.class == failed:
			rep.byFault[f][2]++
		case o.done:
			rep.unknownDone++
			rep.byFault[f][0]++
		default:
			rep.unknownNotDone++
			rep.byFault[f][1]++
		}
	}
	for _, o := range ops {
		if !o.done {
			continue
		}
		if o.kind == list {
			rep.listed++
		} else {
			rep.sold++
		}
	}
	return rep
}

// fundsOf is every user's funds after the purchases in chains.
func fundsOf(chains ...[]*op) []int64 {
	f := make([]int64, users)
	for u := range users {
		f[u] = startFunds(u)
	}
	for _, ch := range chains {
		for _, o := range ch {
			if o.kind == buy {
				f[o.seller] += o.price
				f[o.user] -= o.price
			}
		}
	}
	return f
}

// chooseByFunds picks one solution per item whose sales give exactly funds, or nil.
func chooseByFunds(solutions [][][]*op, funds []int64) []int {
	choice := make([]int, len(solutions))
	var fixed [][]*op
	var open []int
	for i, s := range solutions {
		if len(s) == 1 {
			fixed = append(fixed, s[0])
		} else {
			open = append(open, i)
		}
	}
	base := fundsOf(fixed...)
	var try func(k int, f []int64) bool
	tries := 0
	try = func(k int, f []int64) bool {
		if tries++; tries > 1_000_000 {
			return false
		}
		if k == len(open) {
			return slices.Equal(f, funds)
		}
		for j, ch := range solutions[open[k]] {
			g := slices.Clone(f)
			for _, o := range ch {
				if o.kind == buy {
					g[o.seller] += o.price
					g[o.user] -= o.price
				}
			}
			choice[open[k]] = j
			if try(k+1, g) {
				return true
			}
		}
		return false
	}
	if !try(0, base) {
		return nil
	}
	return choice
}

// diagnose explains why no history fits an item: if allowing the refused and failed calls finds one,
// a call reported as not done happened; otherwise it prints the item's calls.
func diagnose(t reporter, item int32, ops []*op, final loc, exhausted bool) {
	t.Helper()
	if exhausted {
		t.Errorf("item %s: search budget of %d steps exhausted", itemID(int(item)), searchBudget)
	}
	for _, o := range ops {
		o.mark = false
	}
	s := newSearch(item, ops, final, func(*op) bool { return true })
	s.run()
	if len(s.found) > 0 {
		for _, o := range s.found[0] {
			if o.class == refused || o.class == failed {
				t.Errorf("item %s: a call reported %s happened: %s", itemID(int(item)), o.class, o)
			}
		}
		return
	}
	var b strings.Builder
	for n, o := range ops {
		if n == 60 {
			fmt.Fprintf(&b, "  ... %d more\n", len(ops)-n)
			break
		}
		fmt.Fprintf(&b, "  %s\n", o)
	}
	t.Errorf("item %s (first owner %s) is in %s, and no history of its %d calls leads there:\n%s",
		itemID(int(item)), userID(owner0(int(item))), final, len(ops), b.String())
}
