package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// Group is a set of independent servers, such as the shards of a client-side sharded dataset.
type Group []*Server

// RunShards starts n independent servers in parallel with the same options. Options.Port must be
// zero: n servers cannot share one port.
func RunShards(ctx context.Context, n int, opt *Options) (Group, error) {
	if err := checkTopology("RunShards", opt); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, fmt.Errorf("%w: RunShards of %d servers", ErrInvalid, n)
	}
	g := make(Group, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g[i], errs[i] = Run(ctx, opt)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// RunShardsT is RunShards for a test: it fails the test on error and closes the servers when it ends.
func RunShardsT(t testing.TB, n int, opt *Options) Group {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g, err := RunShards(ctx, n, opt)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// Addrs lists the servers' addresses in order.
func (g Group) Addrs() []string {
	addrs := make([]string, len(g))
	for i, s := range g {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Close closes every server.
func (g Group) Close() error {
	var errs []error
	for _, s := range g {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// Replicated is a master with one replica.
type Replicated struct {
	Master  *Server
	Replica *Server
}

// RunReplicated starts a master and a replica of it, both with opt (so AOF applies to both),
// and waits until the replica's link to the master is up and the initial sync is done.
// The replica's configuration names the master, so a restarted replica resyncs by itself.
func RunReplicated(ctx context.Context, opt *Options) (*Replicated, error) {
	var o Options
	if opt != nil {
		o = *opt
	}
	if err := checkTopology("RunReplicated", &o); err != nil {
		return nil, err
	}
	if o.Unix {
		return nil, fmt.Errorf("%w: replication needs TCP (Unix must be false)", ErrInvalid)
	}
	m, err := Run(ctx, &o)
	if err != nil {
		return nil, err
	}
	ro := o
	ro.Config = append(append([]string(nil), o.Config...), fmt.Sprintf("replicaof %s %d", m.opt.Host, m.Port()))
	if o.Password != "" {
		ro.Config = append(ro.Config, "masterauth "+quote(o.Password))
	}
	r, err := Run(ctx, &ro)
	if err != nil {
		m.Close()
		return nil, err
	}
	rep := &Replicated{Master: m, Replica: r}
	if err := WaitLinkUp(ctx, r); err != nil {
		rep.Close()
		return nil, err
	}
	return rep, nil
}

// RunReplicatedT is RunReplicated for a test.
func RunReplicatedT(t testing.TB, opt *Options) *Replicated {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := RunReplicated(ctx, opt)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// Close closes both servers.
func (r *Replicated) Close() error { return errors.Join(r.Replica.Close(), r.Master.Close()) }

// checkTopology refuses a fixed port for a topology of several servers: each would try to bind it.
func checkTopology(what string, opt *Options) error {
	if opt != nil && opt.Port != 0 {
		return fmt.Errorf("%w: %s starts several servers, so Port must be 0 (got %d)", ErrInvalid, what, opt.Port)
	}
	return nil
}

// WaitLinkUp waits until the replica reports master_link_status:up and is not syncing, and then
// until its master counts it in WAIT: a write on the master is acknowledged by the replica. The
// write is a function library loaded and deleted (no key, so it suits any cluster slot and leaves
// the data alone).
//
// Why the second wait: after a diskless full sync the master starts streaming to the replica on
// the replica's REPLCONF ACK. When the first ACK comes before the master has reaped its RDB child,
// the master waits for the next one, which the replica sends once a second. Until then a write's
// WAIT counts the replica as missing it, although its link is up. (The REPLCONF GETACK that the
// wait sends is itself in the stream, past what the replica last acknowledged: a WAIT on a connection
// used after WaitLinkUp asks the replica again rather than answering at once.)
func WaitLinkUp(ctx context.Context, replica *Server) (err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	c := replica.NewClient()
	defer c.Close()
	var master string
	if err := poll(ctx, func() error {
		info, err := c.InfoMap(ctx, "replication").Result()
		if err != nil {
			return err
		}
		r := info["Replication"]
		if r["master_link_status"] != "up" || r["master_sync_in_progress"] == "1" {
			return fmt.Errorf("replica %s: link not up yet", replica.Addr())
		}
		master = net.JoinHostPort(r["master_host"], r["master_port"])
		return nil
	}); err != nil {
		return err
	}
	return waitAcked(ctx, replica, master)
}

// ackLibrary is the function library WaitLinkUp loads and deletes on a master.
const ackLibrary = "redistest_ack"

// waitAcked writes on master and waits until its ROLE lists replica at that write's offset or past
// it. master shares the replica's password and TLS files, as in every topology redistest starts.
func waitAcked(ctx context.Context, replica *Server, master string) error {
	o := replica.Options()
	o.Addr = master
	mc := redis.NewClient(o)
	defer mc.Close()
	conn := mc.Conn()
	defer conn.Close()
	cmds, _ := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.FunctionLoadReplace(ctx, "#!lua name="+ackLibrary+"\nredis.register_function('"+ackLibrary+"', function() return 1 end)")
		p.FunctionDelete(ctx, ackLibrary)
		p.Do(ctx, "role")
		return nil
	})
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			return fmt.Errorf("redistest: replica %s: write on its master %s: %w", replica.Addr(), master, err)
		}
	}
	offset, acked, err := parseRole(cmds[2].(*redis.Cmd).Val())
	if err != nil {
		return fmt.Errorf("redistest: replica %s: %w", replica.Addr(), err)
	}
	return poll(ctx, func() error {
		// A WAIT that blocks makes the master ask its replicas for their offsets (REPLCONF GETACK)
		// at once, rather than on their next ACK a second later; it returns when all have the write.
		if err := conn.Do(ctx, "wait", max(len(acked), 1), 100).Err(); err != nil {
			return err
		}
		role, err := conn.Do(ctx, "role").Result()
		if err != nil {
			return err
		}
		if _, acked, err = parseRole(role); err != nil {
			return err
		}
		got, ok := acked[replica.Port()]
		if !ok {
			return fmt.Errorf("master %s does not list replica %s", master, replica.Addr())
		}
		if got < offset {
			return fmt.Errorf("master %s has replica %s at offset %d of %d", master, replica.Addr(), got, offset)
		}
		return nil
	})
}

// parseRole reads a master's ROLE reply: its replication offset, and each replica's acknowledged
// offset by port.
func parseRole(v any) (offset int64, acked map[int]int64, err error) {
	a, ok := v.([]any)
	if !ok || len(a) < 3 || a[0] != "master" {
		return 0, nil, fmt.Errorf("ROLE %v: not a master's", v)
	}
	offset, _ = a[1].(int64)
	acked = map[int]int64{}
	replicas, _ := a[2].([]any)
	for _, r := range replicas {
		f, _ := r.([]any)
		if len(f) < 3 {
			return 0, nil, fmt.Errorf("ROLE replica entry %v", r)
		}
		port, err1 := strconv.Atoi(fmt.Sprint(f[1]))
		off, err2 := strconv.ParseInt(fmt.Sprint(f[2]), 10, 64)
		if err1 != nil || err2 != nil {
			return 0, nil, fmt.Errorf("ROLE replica entry %v", r)
		}
		acked[port] = off
	}
	return offset, acked, nil
}

// poll calls f every 20ms until it returns nil or ctx ends; the error then includes f's last error.
func poll(ctx context.Context, f func() error) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: %w: %v", ctx.Err(), err)
		case <-t.C:
		}
	}
}
