package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/conn/conntest"
	"github.com/ria-go/ria/redistest"
)

func writeKeys(t testing.TB, c redis.Cmdable, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			p.Set(ctx, prefix+strconv.Itoa(i), i, 0)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkKeys fails unless c holds the n keys writeKeys wrote, right now (no polling).
func checkKeys(t testing.TB, c redis.Cmdable, prefix string, n int) {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	vals, err := c.MGet(context.Background(), keys...).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if v != strconv.Itoa(i) {
			t.Fatalf("%s%d = %v; want %d", prefix, i, v, i)
		}
	}
}

func tokens(t *testing.T, c redis.Cmdable) []string {
	t.Helper()
	ts, err := c.ZRange(context.Background(), waitKey, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestWaitForSyncAOF(t *testing.T) {
	ctx := context.Background()
	r := redistest.RunReplicatedT(t, &redistest.Options{AOF: true})
	m, rc := r.Master.Client(t), r.Replica.Client(t)
	// Tokens left by dead callers: the old one goes, the recent one stays.
	now := time.Now()
	m.ZAdd(ctx, waitKey, redis.Z{Score: unixSeconds(now.Add(-time.Hour)), Member: "old"},
		redis.Z{Score: unixSeconds(now.Add(-time.Minute)), Member: "recent"})
	writeKeys(t, m, "k", 2000)

	res, err := WaitForSync(ctx, m, rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.AOF || !res.Durable || res.Fsync != "everysec" || res.Token == "" {
		t.Fatalf("result %+v; want AOF, everysec, durable", res)
	}
	// Not a speed check: with everysec, durability may only be claimed after the fsync period.
	if res.Elapsed < 1200*time.Millisecond {
		t.Fatalf("durable after %v, before FsyncWait (1.2s) passed", res.Elapsed)
	}
	checkKeys(t, rc, "k", 2000)
	if got := tokens(t, m); len(got) != 1 || got[0] != "recent" {
		t.Fatalf("sync:wait on master holds %v; want [recent]", got)
	}

	// The claim, checked: with the master gone (no resync possible), a replica killed and restarted
	// has the keys from its own AOF.
	if err := r.Master.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := r.Replica.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, r.Replica.Client(t), "k", 2000)
}

func TestWaitForSyncAlways(t *testing.T) {
	r := redistest.RunReplicatedT(t, &redistest.Options{AOF: true, Config: []string{"appendfsync always"}})
	m, rc := r.Master.Client(t), r.Replica.Client(t)
	writeKeys(t, m, "a", 100)
	res, err := WaitForSync(context.Background(), m, rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Durable || res.Fsync != "always" {
		t.Fatalf("result %+v; want durable with always", res)
	}
	checkKeys(t, rc, "a", 100)
}

func TestWaitForSyncNoAOF(t *testing.T) {
	r := redistest.RunReplicatedT(t, nil)
	m, rc := r.Master.Client(t), r.Replica.Client(t)
	// Each success must mean the replica has the write now, whichever pooled connection wrote it.
	for i := range 20 {
		writeKeys(t, m, fmt.Sprintf("n%d:", i), 50)
		res, err := WaitForSync(context.Background(), m, rc, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.AOF || res.Durable || !strings.Contains(res.Note, "appendonly off") {
			t.Fatalf("result %+v; want AOF off reported, not durable", res)
		}
		checkKeys(t, rc, fmt.Sprintf("n%d:", i), 50)
	}
	if got := tokens(t, m); len(got) != 0 {
		t.Fatalf("tokens left: %v", got)
	}
}

func TestWaitForSyncFsyncNo(t *testing.T) {
	r := redistest.RunReplicatedT(t, &redistest.Options{AOF: true, Config: []string{"appendfsync no"}})
	res, err := WaitForSync(context.Background(), r.Master.Client(t), r.Replica.Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.AOF || res.Durable || res.Fsync != "no" {
		t.Fatalf("result %+v; want AOF on, appendfsync no, not durable", res)
	}
}

func TestWaitForSyncReplicaDown(t *testing.T) {
	for _, fault := range []string{"killed", "paused"} {
		t.Run(fault, func(t *testing.T) {
			r := redistest.RunReplicatedT(t, &redistest.Options{AOF: true})
			m, rc := r.Master.Client(t), r.Replica.Client(t)
			if fault == "killed" {
				r.Replica.Kill()
			} else {
				r.Replica.Pause()
				defer r.Replica.Resume()
			}
			const timeout = 1500 * time.Millisecond
			start := time.Now()
			res, err := WaitForSync(context.Background(), m, rc, &Options{Timeout: timeout})
			elapsed := time.Since(start)
			if !errors.Is(err, ErrNotSynced) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err %v; want ErrNotSynced wrapping DeadlineExceeded", err)
			}
			// "An error within the deadline": a correctness bound, with half the
			// timeout as slack for a loaded machine (the bug this guards against overran by seconds).
			if elapsed > timeout*3/2 {
				t.Fatalf("returned after %v; Timeout %v", elapsed, timeout)
			}
			if res.Durable {
				t.Fatalf("result %+v claims durability", res)
			}
			if got := tokens(t, m); len(got) != 0 {
				t.Fatalf("token left after a failed wait: %v", got)
			}
		})
	}
}

func TestWaitForSyncContextDeadline(t *testing.T) {
	r := redistest.RunReplicatedT(t, nil)
	m, rc := r.Master.Client(t), r.Replica.Client(t)
	r.Replica.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	// ctx's deadline wins over the longer Timeout.
	if _, err := WaitForSync(ctx, m, rc, &Options{Timeout: time.Minute}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v; want DeadlineExceeded", err)
	}
}

func TestWaitForSyncLinkDown(t *testing.T) {
	// The master gone: the replica's link is down, which the book's inverted loop let through.
	r := redistest.RunReplicatedT(t, nil)
	m2 := redistest.RunT(t, nil) // a live "master" the token goes to, which the replica does not follow
	r.Master.Kill()
	_, err := WaitForSync(context.Background(), m2.Client(t), r.Replica.Client(t), &Options{Timeout: time.Second})
	if !errors.Is(err, ErrNotSynced) || !strings.Contains(err.Error(), "master_link_status") ||
		!strings.Contains(err.Error(), "link down") {
		t.Fatalf("err %v; want ErrNotSynced at the link stage, naming the link state", err)
	}
}

func TestWaitForSyncWrongMaster(t *testing.T) {
	r := redistest.RunReplicatedT(t, nil)
	other := redistest.RunT(t, nil)
	_, err := WaitForSync(context.Background(), other.Client(t), r.Replica.Client(t), &Options{Timeout: time.Second})
	want := fmt.Sprintf("replica follows 127.0.0.1:%d", r.Master.Port())
	if !errors.Is(err, ErrNotSynced) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err %v; want ErrNotSynced naming %q", err, want)
	}
	if got := tokens(t, other.Client(t)); len(got) != 0 {
		t.Fatalf("token left: %v", got)
	}
}

func TestWaitForSyncNotReplica(t *testing.T) {
	s := redistest.RunT(t, nil)
	c := s.Client(t)
	_, err := WaitForSync(context.Background(), c, c, &Options{Timeout: time.Minute})
	if !errors.Is(err, ErrNotReplica) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v; want ErrNotReplica at once", err)
	}
}

func TestWaitForSyncMasterDown(t *testing.T) {
	r := redistest.RunReplicatedT(t, nil)
	m := r.Master.Client(t)
	r.Master.Kill()
	if _, err := WaitForSync(context.Background(), m, r.Replica.Client(t), &Options{Timeout: 2 * time.Second}); err == nil {
		t.Fatal("no error with the master down")
	}
}

func TestWaitReplicas(t *testing.T) {
	ctx := context.Background()
	r := redistest.RunReplicatedT(t, nil)
	// Writes on one client, WAIT through another: the token write makes WAIT cover them.
	writer, waiter, rc := r.Master.Client(t), r.Master.Client(t), r.Replica.Client(t)
	for i := range 30 {
		writeKeys(t, writer, fmt.Sprintf("w%d:", i), 20)
		acks, err := WaitReplicas(ctx, waiter, nil)
		if err != nil {
			t.Fatal(err)
		}
		if acks.Replicas != 1 || acks.Wanted != 1 {
			t.Fatalf("acks %+v; want 1 of 1", acks)
		}
		checkKeys(t, rc, fmt.Sprintf("w%d:", i), 20)
	}
	if got := tokens(t, writer); len(got) != 0 {
		t.Fatalf("tokens left: %v", got)
	}

	acks, err := WaitReplicas(ctx, waiter, &Options{Replicas: 2, Timeout: 1200 * time.Millisecond})
	if !errors.Is(err, ErrTooFewReplicas) || !errors.Is(err, context.DeadlineExceeded) || acks.Replicas != 1 || acks.Wanted != 2 {
		t.Fatalf("got %+v, %v; want 1 of 2 and ErrTooFewReplicas", acks, err)
	}

	// A paused replica acknowledges nothing new. A plain WAIT on the waiter's pooled connection, whose
	// last command came before the write, would count it anyway; the token write prevents that.
	if n, err := waiter.Do(ctx, "WAIT", 1, 2000).Int(); n != 1 || err != nil { // all acknowledged so far
		t.Fatalf("WAIT: %d, %v", n, err)
	}
	if err := r.Replica.Pause(); err != nil {
		t.Fatal(err)
	}
	writer.Set(ctx, "while-paused", 1, 0)
	acks, err = WaitReplicas(ctx, waiter, &Options{Timeout: 800 * time.Millisecond})
	if !errors.Is(err, ErrTooFewReplicas) || acks.Replicas != 0 {
		t.Fatalf("paused replica: got %+v, %v; want 0 acks and ErrTooFewReplicas", acks, err)
	}
	r.Replica.Resume()

	r.Replica.Kill()
	acks, err = WaitReplicas(ctx, waiter, &Options{Timeout: 800 * time.Millisecond})
	if !errors.Is(err, ErrTooFewReplicas) || acks.Replicas != 0 {
		t.Fatalf("got %+v, %v; want 0 acks and ErrTooFewReplicas", acks, err)
	}
	if got := tokens(t, writer); len(got) != 0 {
		t.Fatalf("tokens left: %v", got)
	}
}

func TestWaitReplicasOnReplica(t *testing.T) {
	r := redistest.RunReplicatedT(t, nil)
	_, err := WaitReplicas(context.Background(), r.Replica.Client(t), &Options{Timeout: 2 * time.Second})
	if err == nil || errors.Is(err, ErrTooFewReplicas) {
		t.Fatalf("err %v; want the server's refusal", err)
	}
}

func TestBGSave(t *testing.T) {
	ctx := context.Background()
	s := redistest.RunT(t, nil)
	c := s.Client(t)
	writeKeys(t, c, "s", 500)
	before := time.Now().Unix() // LASTSAVE is in whole seconds
	snap, err := BGSave(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Saves != 1 || snap.Path != filepath.Join(s.Dir(), "dump.rdb") {
		t.Fatalf("snapshot %+v", snap)
	}
	// The save is ours: LASTSAVE is no earlier than the call's second, and is what the server says.
	if last, err := c.LastSave(ctx).Result(); err != nil || snap.LastSave.Unix() < before || snap.LastSave.Unix() != last {
		t.Fatalf("snapshot LastSave %v (server LASTSAVE %d, %v); want >= %d", snap.LastSave.Unix(), last, err, before)
	}
	if _, err := os.Stat(snap.Path); err != nil {
		t.Fatal(err)
	}

	// A slow save already running when the data is written: BGSave waits for it, then saves again.
	if err := c.ConfigSet(ctx, "rdb-key-save-delay", "500").Err(); err != nil { // µs per key
		t.Fatal(err)
	}
	if err := c.BgSave(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	c.Set(ctx, "late", "yes", 0)
	snap, err = BGSave(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Saves != 3 {
		t.Fatalf("rdb_saves %d; want 3 (the running save, then ours)", snap.Saves)
	}
	if snap.LastSave.Unix() < before {
		t.Fatalf("LastSave %d before the first call's second %d", snap.LastSave.Unix(), before)
	}
	// Restarted from the snapshot alone (no AOF, no save on exit: SIGKILL), the data is there.
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	c2 := s.Client(t)
	checkKeys(t, c2, "s", 500)
	if v, _ := c2.Get(ctx, "late").Result(); v != "yes" {
		t.Fatalf("late = %q after restart; the save did not include it", v)
	}
}

func TestBGSaveFails(t *testing.T) {
	ctx := context.Background()
	s := redistest.RunT(t, &redistest.Options{Config: []string{"enable-protected-configs yes"}}) // to move dir
	c := s.Client(t)
	gone := t.TempDir()
	if err := c.ConfigSet(ctx, "dir", gone).Err(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil { // the child cannot create its temp file in a removed dir
		t.Fatal(err)
	}
	c.Set(ctx, "k", "v", 0)
	if _, err := BGSave(ctx, c, nil); !errors.Is(err, ErrSaveFailed) {
		t.Fatalf("err %v; want ErrSaveFailed", err)
	}
}

func TestEnableAOF(t *testing.T) {
	ctx := context.Background()
	s := redistest.RunT(t, nil)
	c := s.Client(t)
	writeKeys(t, c, "e", 300)
	st, err := EnableAOF(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.AlreadyOn || st.Size == 0 || st.Fsync != "everysec" {
		t.Fatalf("status %+v", st)
	}
	p, err := info(ctx, c, "persistence")
	if err != nil {
		t.Fatal(err)
	}
	if p["aof_enabled"] != "1" || p["aof_rewrite_in_progress"] != "0" || p["aof_last_bgrewrite_status"] != "ok" {
		t.Fatalf("INFO persistence after EnableAOF: %v", p)
	}
	base, _ := filepath.Glob(filepath.Join(s.Dir(), "appendonlydir", "*.base.*"))
	if len(base) != 1 {
		t.Fatalf("AOF base files: %v", base)
	}
	if fi, err := os.Stat(base[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("AOF base %s: %v, %v", base[0], fi, err)
	}
	st, err = EnableAOF(ctx, c, nil)
	if err != nil || !st.AlreadyOn {
		t.Fatalf("second call: %+v, %v; want AlreadyOn", st, err)
	}
}

// TestReplaceFailedMaster plays section 4.3.2: the master dies, its replica is promoted, and another
// server is pointed at the new master.
func TestReplaceFailedMaster(t *testing.T) {
	ctx := context.Background()
	r := redistest.RunReplicatedT(t, nil)
	spare := redistest.RunT(t, nil)
	m, b, cc := r.Master.Client(t), r.Replica.Client(t), spare.Client(t)
	writeKeys(t, m, "f", 1000)
	if _, err := WaitForSync(ctx, m, b, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Master.Kill(); err != nil {
		t.Fatal(err)
	}

	ri, err := Promote(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ri.Role != "master" {
		t.Fatalf("after Promote: %+v", ri)
	}
	if err := b.Set(ctx, "after", "promotion", 0).Err(); err != nil {
		t.Fatalf("the promoted replica refuses writes: %v", err)
	}
	ri, err = ReplicaOf(ctx, cc, r.Replica.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ri.Role != "slave" || !ri.LinkUp || ri.MasterPort != r.Replica.Port() {
		t.Fatalf("after ReplicaOf: %+v", ri)
	}
	checkKeys(t, cc, "f", 1000)
	b.Set(ctx, "later", "1", 0)
	if _, err := WaitForSync(ctx, b, cc, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := cc.Get(ctx, "later").Result(); v != "1" {
		t.Fatalf("later = %q on the new replica", v)
	}
	if ri, err := Replication(ctx, b); err != nil || ri.Replicas != 1 {
		t.Fatalf("new master: %+v, %v; want 1 replica", ri, err)
	}
	// Promoting a master is a no-op.
	if ri, err := Promote(ctx, b, nil); err != nil || ri.Role != "master" {
		t.Fatalf("Promote(master): %+v, %v", ri, err)
	}
}

func TestReplicaOfUnreachable(t *testing.T) {
	s := redistest.RunT(t, nil)
	c := s.Client(t)
	defer c.ReplicaOf(context.Background(), "NO", "ONE")
	_, err := ReplicaOf(context.Background(), c, "127.0.0.1:1", &Options{Timeout: time.Second})
	if !errors.Is(err, ErrNotSynced) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v; want ErrNotSynced", err)
	}
}

// TestThroughRegistry calls the functions the way the examples do: clients injected by component.
func TestThroughRegistry(t *testing.T) {
	ctx := context.Background()
	r := redistest.RunReplicatedT(t, nil)
	reg, _ := conntest.MiniRegistry(t)
	for comp, s := range map[string]*redistest.Server{"master": r.Master, "replica": r.Replica} {
		if err := reg.SetConfig(ctx, comp, map[string]any{"host": "127.0.0.1", "port": s.Port()}); err != nil {
			t.Fatal(err)
		}
	}
	writeKeys(t, r.Master.Client(t), "g", 10)
	wait := conn.WrapPair(reg, "master", "replica", WaitForSync)
	res, err := wait(ctx, nil)
	if err != nil || res.Token == "" {
		t.Fatalf("got %+v, %v", res, err)
	}
	checkKeys(t, r.Replica.Client(t), "g", 10)
	acks, err := conn.Wrap1(reg, "master", WaitReplicas)(ctx, nil)
	if err != nil || acks.Replicas != 1 {
		t.Fatalf("got %+v, %v", acks, err)
	}
	ri, err := conn.Wrap(reg, "replica", Replication)(ctx)
	if err != nil || ri.Role != "slave" {
		t.Fatalf("got %+v, %v", ri, err)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	neg := []*Options{{Timeout: -2}, {Poll: -1}, {Poll: -2}, {MaxAge: -2}, {FsyncWait: -2}, {Replicas: -1}, {Replicas: -2}}
	calls := map[string]func(redis.Cmdable, *Options) error{
		"WaitForSync":  func(c redis.Cmdable, o *Options) error { _, err := WaitForSync(ctx, c, c, o); return err },
		"WaitReplicas": func(c redis.Cmdable, o *Options) error { _, err := WaitReplicas(ctx, c, o); return err },
		"BGSave":       func(c redis.Cmdable, o *Options) error { _, err := BGSave(ctx, c, o); return err },
		"EnableAOF":    func(c redis.Cmdable, o *Options) error { _, err := EnableAOF(ctx, c, o); return err },
		"Promote":      func(c redis.Cmdable, o *Options) error { _, err := Promote(ctx, c, o); return err },
		"ReplicaOf": func(c redis.Cmdable, o *Options) error {
			_, err := ReplicaOf(ctx, c, "127.0.0.1:6379", o)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(nil, nil); !errors.Is(err, ErrBadInput) {
				t.Fatalf("nil client: err %v; want ErrBadInput", err)
			}
			for _, o := range neg {
				if err := call(c, o); !errors.Is(err, ErrBadInput) {
					t.Fatalf("options %+v: err %v; want ErrBadInput", *o, err)
				}
			}
		})
	}
	if _, err := WaitForSync(ctx, c, nil, nil); !errors.Is(err, ErrBadInput) {
		t.Fatalf("nil replica: err %v", err)
	}
	if _, err := Replication(ctx, nil); !errors.Is(err, ErrBadInput) {
		t.Fatalf("Replication(nil): err %v", err)
	}
	for _, addr := range []string{"", "host", ":6379", "h:0", "h:65536", "h:port", "h:-1"} {
		if _, err := ReplicaOf(ctx, c, addr, nil); !errors.Is(err, ErrBadInput) {
			t.Fatalf("ReplicaOf(%q): err %v; want ErrBadInput", addr, err)
		}
	}
	if keys := m.Keys(); len(keys) != 0 {
		t.Fatalf("bad input wrote %v", keys)
	}
}

func TestParseReplication(t *testing.T) {
	m := map[string]string{"role": "slave", "master_host": "10.0.0.1", "master_port": "6380",
		"master_link_status": "up", "master_sync_in_progress": "0", "connected_slaves": "2", "master_repl_offset": "99"}
	want := ReplicationInfo{Role: "slave", MasterHost: "10.0.0.1", MasterPort: 6380, LinkUp: true, Replicas: 2, Offset: 99}
	if got := parseReplication(m); got != want {
		t.Fatalf("got %+v; want %+v", got, want)
	}
}

func BenchmarkWaitForSync(b *testing.B) {
	r := redistest.RunReplicatedT(b, nil)
	m, rc := r.Master.Client(b), r.Replica.Client(b)
	ctx := context.Background()
	for b.Loop() {
		m.Incr(ctx, "bench")
		if _, err := WaitForSync(ctx, m, rc, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWaitReplicas(b *testing.B) {
	r := redistest.RunReplicatedT(b, nil)
	m := r.Master.Client(b)
	ctx := context.Background()
	for b.Loop() {
		m.Incr(ctx, "bench")
		if _, err := WaitReplicas(ctx, m, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEnableAOFFails(t *testing.T) {
	ctx := context.Background()
	s := redistest.RunT(t, &redistest.Options{Config: []string{"enable-protected-configs yes"}})
	c := s.Client(t)
	gone := t.TempDir()
	if err := c.ConfigSet(ctx, "dir", gone).Err(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil { // the AOF cannot be created in a removed dir
		t.Fatal(err)
	}
	c.Set(ctx, "k", "v", 0)
	if _, err := EnableAOF(ctx, c, &Options{Timeout: 3 * time.Second}); !errors.Is(err, ErrAOFFailed) {
		t.Fatalf("err %v; want ErrAOFFailed", err)
	}
}
