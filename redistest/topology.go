package redistest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
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

// WaitLinkUp waits until the replica reports master_link_status:up and is not syncing.
func WaitLinkUp(ctx context.Context, replica *Server) error {
	c := replica.NewClient()
	defer c.Close()
	return poll(ctx, func() error {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") || strings.Contains(info, "master_sync_in_progress:1") {
			return fmt.Errorf("replica %s: link not up yet", replica.Addr())
		}
		return nil
	})
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
