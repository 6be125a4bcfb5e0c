package ch04

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
	riasync "github.com/ria-go/ria/sync"
)

// Sync starts real servers (miniredis has no replication or persistence): a master A and its
// replica B with AOF, waits for sync through the registry, runs the market in its durable mode on
// them, then replaces A as listing 4.4 does, and shows the alternative (promote the replica).
func Sync(ctx context.Context, env *tour.Env) error {
	if missing, err := env.NeedServers("replication, wait_for_sync and failover"); missing {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	reg := env.Registry

	a, err := redistest.Run(ctx, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := redistest.Run(ctx, &redistest.Options{AOF: true, Config: []string{fmt.Sprintf("replicaof 127.0.0.1 %d", a.Port())}})
	if err != nil {
		return err
	}
	defer b.Close()
	if err := setServer(ctx, reg, "master", a); err != nil {
		return err
	}
	if err := setServer(ctx, reg, "replica", b); err != nil {
		return err
	}
	// The functions bound to components, as the book's decorators would.
	waitForSync := conn.WrapPair(reg, "master", "replica", riasync.WaitForSync)
	waitReplicas := conn.Wrap1(reg, "master", riasync.WaitReplicas)
	replication := conn.Wrap(reg, "replica", riasync.Replication)
	masterSave := conn.Wrap1(reg, "master", riasync.BGSave)
	replicaSave := conn.Wrap1(reg, "replica", riasync.BGSave)
	enableAOF := conn.Wrap1(reg, "master", riasync.EnableAOF)
	replicaOf := conn.Wrap2(reg, "replica", riasync.ReplicaOf)
	promote := conn.Wrap1(reg, "replica", riasync.Promote)

	env.Section("4.2 replication: A is the master, B (appendonly yes, appendfsync everysec) its replica")
	if err := writeUsers(ctx, reg, 0, 1000); err != nil {
		return err
	}
	res, err := waitForSync(ctx, nil)
	if err != nil {
		return err
	}
	env.Printf("listing 4.3 wait_for_sync (fixed): 1000 users:<id> on A reached B in %v\n", res.Elapsed.Round(time.Millisecond))
	env.Printf("  B: appendonly %v, appendfsync %s, on disk: %v (%s)\n", res.AOF, res.Fsync, res.Durable, res.Note)
	ri, err := replication(ctx)
	if err != nil {
		return err
	}
	env.Printf("  B: role:%s, master %s:%d, link up %v\n", ri.Role, ri.MasterHost, ri.MasterPort, ri.LinkUp)
	acks, err := waitReplicas(ctx, nil)
	if err != nil {
		return err
	}
	env.Printf("the WAIT variant: %d of %d replicas acknowledged (in memory) in %v\n", acks.Replicas, acks.Wanted, acks.Elapsed.Round(time.Microsecond))

	env.Section("errata: the book returned silently after its 1.01 s deadline; a stalled replica is an error here")
	if err := b.Pause(); err != nil {
		return err
	}
	writeUsers(ctx, reg, 1000, 1)
	_, err = waitForSync(ctx, &riasync.Options{Timeout: time.Second})
	if err := b.Resume(); err != nil {
		return err
	}
	if !errors.Is(err, riasync.ErrNotSynced) {
		return fmt.Errorf("expected ErrNotSynced from a paused replica, got %v", err)
	}
	env.Printf("B paused (SIGSTOP), Timeout 1s: %v\n", err)

	if err := durableMarket(ctx, env, reg, b); err != nil {
		return err
	}

	env.Section("4.1 persistence on A: BGSAVE and wait for it; turn AOF on and wait for its rewrite")
	snap, err := masterSave(ctx, nil)
	if err != nil {
		return err
	}
	env.Printf("A saved %s (rdb_saves %d) in %v\n", filepath.Base(snap.Path), snap.Saves, snap.Elapsed.Round(time.Millisecond))
	aof, err := enableAOF(ctx, nil)
	if err != nil {
		return err
	}
	env.Printf("A: CONFIG SET appendonly yes; AOF rewritten (%d bytes, appendfsync %s) in %v\n", aof.Size, aof.Fsync, aof.Elapsed.Round(time.Millisecond))

	env.Section("4.3.2 replacing a failed master, as listing 4.4: A dies")
	if err := a.Kill(); err != nil {
		return err
	}
	if ri, err = replication(ctx); err != nil {
		return err
	}
	env.Printf("B: role:%s, link up %v\n", ri.Role, ri.LinkUp)
	snap, err = replicaSave(ctx, nil) // the book's SAVE on B
	if err != nil {
		return err
	}
	c, err := redistest.Run(ctx, nil) // machine C
	if err != nil {
		return err
	}
	defer c.Close()
	if err := copyFile(snap.Path, filepath.Join(c.Dir(), "dump.rdb")); err != nil { // the book's scp
		return err
	}
	if err := c.Restart(ctx); err != nil { // C starts from B's snapshot
		return err
	}
	cc := c.NewClient()
	defer cc.Close()
	env.Printf("B saved %s; copied to C; C started with %d keys\n", filepath.Base(snap.Path), cc.DBSize(ctx).Val())
	if ri, err = replicaOf(ctx, c.Addr(), nil); err != nil { // the book's SLAVEOF on B
		return err
	}
	env.Printf("B: REPLICAOF %s %d: role:%s, link up %v\n", ri.MasterHost, ri.MasterPort, ri.Role, ri.LinkUp)
	if err := setServer(ctx, reg, "master", c); err != nil { // clients now write to C
		return err
	}
	if err := writeUsers(ctx, reg, 2000, 10); err != nil {
		return err
	}
	if res, err = waitForSync(ctx, nil); err != nil {
		return err
	}
	env.Printf("config:redis:master now names C; 10 new users reached B, on disk: %v, in %v\n", res.Durable, res.Elapsed.Round(time.Millisecond))

	env.Section("the alternative: promote the replica and give it a new replica")
	if err := c.Kill(); err != nil {
		return err
	}
	if ri, err = promote(ctx, nil); err != nil { // REPLICAOF NO ONE on B
		return err
	}
	env.Printf("C died; B promoted: role:%s\n", ri.Role)
	d, err := redistest.Run(ctx, nil) // machine D, empty
	if err != nil {
		return err
	}
	defer d.Close()
	if err := setServer(ctx, reg, "master", b); err != nil {
		return err
	}
	if err := setServer(ctx, reg, "replica", d); err != nil {
		return err
	}
	if ri, err = replicaOf(ctx, b.Addr(), nil); err != nil { // D follows B
		return err
	}
	if res, err = waitForSync(ctx, nil); err != nil {
		return err
	}
	dc := d.NewClient()
	defer dc.Close()
	env.Printf("D: role:%s, link up %v, %d keys; on disk: %v (%s)\n", ri.Role, ri.LinkUp, dc.DBSize(ctx).Val(), res.Durable, res.Note)
	return nil
}

// durableMarket shows the market's durable mode on master A and replica B: a purchase counts as
// acknowledged only once B has it (WAIT); with B paused, one is applied on A but not confirmed.
func durableMarket(ctx context.Context, env *tour.Env, reg *conn.Registry, b *redistest.Server) error {
	env.Section("4.4 + 4.2 the market's durable mode: market.NewWatch(&market.Options{Durable: market.Durability{Replicas: 1}})")
	w, err := market.NewWatch(&market.Options{Durable: market.Durability{Replicas: 1}})
	if err != nil {
		return err
	}
	// Waits no longer than it takes to show the refusal: B will not answer.
	short, err := market.NewWatch(&market.Options{Durable: market.Durability{Replicas: 1, Timeout: 200 * time.Millisecond}})
	if err != nil {
		return err
	}
	err = reg.Do(ctx, "master", func(c redis.UniversalClient) error {
		if err := addUser(ctx, c, "17", "Frank", 43, "ItemM", "ItemN"); err != nil {
			return err
		}
		return addUser(ctx, c, "27", "Bill", 125)
	})
	if err != nil {
		return err
	}
	list := conn.Wrap3(reg, "master", w.ListItem)
	for _, it := range []string{"ItemM", "ItemN"} {
		if _, err := list(ctx, it, "17", 40); err != nil {
			return err
		}
	}
	env.Printf("Frank (17) lists ItemM and ItemN for 40 each: both confirmed by B\n")
	p, err := conn.Wrap4(reg, "master", w.PurchaseItem)(ctx, "27", "ItemM", "17", 40)
	if err != nil {
		return err
	}
	env.Printf("Bill (27) buys %s: confirmed by B (EXEC, then WAIT 1 on the same connection)\n", p.Item)

	if err := b.Pause(); err != nil {
		return err
	}
	p, err = conn.Wrap4(reg, "master", short.PurchaseItem)(ctx, "27", "ItemN", "17", 40)
	if rerr := b.Resume(); rerr != nil {
		return rerr
	}
	if !errors.Is(err, market.ErrNotDurable) || p.Item != "ItemN" {
		return fmt.Errorf("expected ItemN's purchase and ErrNotDurable from a paused replica, got %+v, %v", p, err)
	}
	env.Printf("B paused (SIGSTOP), Durable.Timeout 200ms: Bill buys %s; PurchaseItem returns {Buyer %s Item %s Seller %s Price %d} and\n  %v\n",
		p.Item, p.Buyer, p.Item, p.Seller, p.Price, err)
	env.Printf("  ErrNotDurable %v, ErrUnknownOutcome %v: applied on the master, not confirmed\n",
		errors.Is(err, market.ErrNotDurable), errors.Is(err, market.ErrUnknownOutcome))

	// A WAIT after a later write on one connection covers the purchase too.
	if _, err := conn.Wrap1(reg, "master", riasync.WaitReplicas)(ctx, nil); err != nil {
		return err
	}
	var inv []string
	err = reg.Do(ctx, "replica", func(c redis.UniversalClient) (err error) {
		inv, err = c.SMembers(ctx, "inventory:27").Result()
		return err
	})
	if err != nil {
		return err
	}
	slices.Sort(inv) // a small SET's order is the server's
	env.Printf("B resumed and caught up (WAIT): inventory:27 on B %v\n", inv)
	return nil
}

// setServer points component at a redistest server, in the book's redis-py config form.
func setServer(ctx context.Context, reg *conn.Registry, component string, s *redistest.Server) error {
	return reg.SetConfig(ctx, component, map[string]any{"host": "127.0.0.1", "port": s.Port()})
}

// writeUsers writes users:<id> HASHes n..n+count-1 to the master component.
func writeUsers(ctx context.Context, reg *conn.Registry, n, count int) error {
	return reg.Do(ctx, "master", func(c redis.UniversalClient) error {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := n; i < n+count; i++ {
				p.HSet(ctx, fmt.Sprintf("users:%d", i), "name", fmt.Sprintf("user%d", i), "funds", i%100)
			}
			return nil
		})
		return err
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
