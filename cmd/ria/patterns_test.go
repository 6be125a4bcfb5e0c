package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/logs"
	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/uniquevisits"
)

// Visits counted by the library over four sharded databases: count and recount agree, with a
// progress bar on a terminal; a count that lost an INCR makes recount exit 1.
func TestVisitsCountAndRecount(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var countsDB *redis.Client
	for i := -1; i < 4; i++ {
		cfg, c := dataDB(t)
		comp := "vis"
		if i >= 0 {
			comp = shard.ShardComponent("vis", i)
		} else {
			countsDB = c
		}
		h.store(comp, cfg)
	}
	day := time.Date(2024, 3, 1, 12, 0, 0, 0, time.Local)
	counter, err := uniquevisits.New(h.registry(), &uniquevisits.Options{Component: "vis", Shards: 4,
		DailyExpected: 5000, Now: func() time.Time { return day }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		if _, err := counter.CountVisit(ctx, fmt.Sprintf("%08x-5e8d-4b6b-9b1b-3f7f3c5e8d4b", (i%45)*7919+1)); err != nil {
			t.Fatal(err)
		}
	}
	flags := []string{"--component", "vis", "--shards", "4", "--day", "2024-03-01"}
	r := h.want(exitOK, append([]string{"visits", "count"}, flags...)...)
	contains(t, r, "unique visitors on 2024-03-01: 45")
	r = h.want(exitOK, append([]string{"visits", "recount", "--json"}, flags...)...)
	var doc struct {
		Recount, Count int64
		Match          bool
		Shards         []recountRow
	}
	decode(t, r.stdout, &doc)
	var sum int64
	for _, s := range doc.Shards {
		sum += s.Count
	}
	if doc.Recount != 45 || doc.Count != 45 || !doc.Match || len(doc.Shards) != 4 || sum != 45 {
		t.Fatalf("recount --json: %+v", doc)
	}
	if r.stderr != "" {
		t.Fatalf("a progress bar on a non-terminal: %q", r.stderr)
	}

	old := isTerminal
	isTerminal = func(io.Writer) bool { return true }
	r = h.want(exitOK, append([]string{"visits", "recount"}, flags...)...)
	isTerminal = old
	contains(t, r, "4/4 vis:3", "[###", "recount (sets) 45, count (vis:2024-03-01) 45")

	// A lost INCR: the count is behind the sets.
	countsDB.Decr(ctx, "unique:2024-03-01")
	r = h.want(exitFail, append([]string{"visits", "recount"}, flags...)...)
	contains(t, r, "recount (sets) 45, count (vis:2024-03-01) 44", "differs from the sets by 1")
	h.want(exitOK, "visits", "count", "--component", "vis", "--day", "2023-01-01") // no visits: 0
	r = h.want(exitFail, "visits", "count", "--component", "nowhere")
	contains(t, r, "no config stored", "ria config set nowhere JSON")
}

// The market as the library leaves it: the cheapest listings, a user's funds and inventory.
func TestMarket(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cfg, c := dataDB(t)
	h.store("shop", cfg)
	c.HSet(ctx, "users:17", "name", "Frank", "funds", 43)
	c.SAdd(ctx, "inventory:17", "ItemL", "ItemM", "ItemN")
	c.HSet(ctx, "users:27", "name", "Bill", "funds", 125)
	for item, price := range map[string]int64{"ItemL": 20, "ItemM": 97, "ItemN": 5} {
		if _, err := market.ListItemScript(ctx, c, item, "17", price); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := market.PurchaseItemScript(ctx, c, "27", "ItemM", "17", 97); err != nil {
		t.Fatal(err)
	}
	r := h.want(exitOK, "market", "ls", "--component", "shop", "--json", "--count", "5")
	var ls struct {
		Listings []struct {
			Item, Seller string
			Price        int64
		}
	}
	decode(t, r.stdout, &ls)
	if len(ls.Listings) != 2 || ls.Listings[0].Item != "ItemN" || ls.Listings[1].Price != 20 {
		t.Fatalf("market ls: %+v", ls)
	}
	r = h.want(exitOK, "market", "ls", "--component", "shop", "--count", "1")
	contains(t, r, "ItemN", "17", "5")
	if strings.Contains(r.stdout, "ItemL") {
		t.Fatalf("--count 1 showed two:\n%s", r.stdout)
	}
	r = h.want(exitOK, "market", "user", "27", "--component", "shop", "--json")
	var u struct {
		Name      string
		Funds     int64
		Inventory []string
	}
	decode(t, r.stdout, &u)
	if u.Name != "Bill" || u.Funds != 28 || strings.Join(u.Inventory, ",") != "ItemM" {
		t.Fatalf("market user 27: %+v", u)
	}
	r = h.want(exitOK, "market", "user", "17", "--component", "shop")
	contains(t, r, "Frank", "140")
	r = h.want(exitFail, "market", "user", "99", "--component", "shop")
	contains(t, r, "no such user")
	c.HSet(ctx, "users:5", "funds", "lots")
	r = h.want(exitFail, "market", "user", "5", "--component", "shop", "--json")
	contains(t, r, "stored funds are not a valid integer")
	c.ZAdd(ctx, "market:", redis.Z{Score: 1, Member: "nodot"})
	r = h.want(exitFail, "market", "ls", "--component", "shop")
	contains(t, r, "malformed listing")
}

// Progress written by the library's ProcessLogs, read back; --prefix after the command is the logs'.
func TestLogsProgress(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cfg, c := dataDB(t)
	h.store("logs", cfg)
	r := h.want(exitOK, "logs", "progress")
	contains(t, r, "nothing saved under progress:")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.log"), []byte("one\ntwo\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "b.log"), []byte("three\n"), 0o600)
	noop := func(context.Context, redis.Pipeliner, logs.Line) error { return nil }
	if _, err := logs.ProcessLogs(ctx, c, dir, noop, &logs.Options{Prefix: "app:"}); err != nil {
		t.Fatal(err)
	}
	r = h.want(exitOK, "logs", "progress", "--prefix", "app:", "--json")
	var p struct {
		Saved    bool
		File     string
		Position int64
	}
	decode(t, r.stdout, &p)
	if !p.Saved || p.File != "b.log" || p.Position != 6 {
		t.Fatalf("logs progress: %+v", p)
	}
	c.Set(ctx, "app:position", "x", 0)
	r = h.want(exitFail, "logs", "progress", "--prefix", "app:")
	contains(t, r, "bad saved progress", "did not write")
}

// A replicated pair: ok; the wrong way round, or with the master gone, exit 1 naming the problem.
func TestSyncStatus(t *testing.T) {
	h := newHarness(t)
	rp := redistest.RunReplicatedT(t, &redistest.Options{AOF: true})
	h.store("m", fmt.Sprintf(`{"addr": %q}`, rp.Master.Addr()))
	h.store("r", fmt.Sprintf(`{"addr": %q}`, rp.Replica.Addr()))
	other, _ := dataDB(t)
	h.store("other", other)
	rp.Master.Client(t).Set(context.Background(), "k", "v", 0)
	r := h.want(exitOK, "sync", "status", "m", "r", "--json")
	var d syncDoc
	decode(t, r.stdout, &d)
	if !d.Follows || d.Master.Role != "master" || d.Replica.Role != "slave" || !d.Replica.LinkUp || !d.Replica.AOF ||
		d.Replica.Fsync != "everysec" || len(d.Problems) != 0 || d.Master.Addr != rp.Master.Addr() {
		t.Fatalf("sync status: %+v", d)
	}
	r = h.want(exitOK, "sync", "status", "m", "r")
	contains(t, r, "status: ok", "up", "appendfsync everysec")
	r = h.want(exitFail, "sync", "status", "r", "m")
	contains(t, r, "m is not a replica (role master)")
	r = h.want(exitFail, "sync", "status", "other", "r")
	contains(t, r, "r follows another master than other")
	h.want(exitFail, "sync", "status", "m", "nothing")
	if err := rp.Master.Kill(); err != nil {
		t.Fatal(err)
	}
	r = h.want(exitFail, "sync", "status", "m", "r")
	contains(t, r, "problem: m: ", "refused")
}
