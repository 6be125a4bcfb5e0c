package ch04

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/redistest"
	riasync "github.com/ria-go/ria/sync"
)

// Sync starts real servers (miniredis has no replication or persistence): a master A and its
// replica B with AOF, waits for sync through the registry, then replaces A as listing 4.4 does, and
// shows the alternative (promote the replica).
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
