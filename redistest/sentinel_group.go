package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// SentinelGroupOptions configure RunSentinelGroup.
type SentinelGroupOptions struct {
	// Replicas is the number of replicas of the master.
	// default: 2
	Replicas int

	// DownAfter is the Sentinel's down-after-milliseconds; the Sentinel pings a tenth of it apart
	// (see RunSentinel).
	// default: 1 second (with less, a busy machine may not answer the Sentinel's first PING to the
	// master it has just promoted in time, and it fails over again: see Failed.Extra)
	DownAfter time.Duration

	// FailoverTimeout is the Sentinel's failover-timeout; a failover that found no replica to promote
	// is tried again after twice this.
	// default: 2 seconds
	FailoverTimeout time.Duration

	// MasterName is the name the Sentinel monitors the master under.
	// default: "mymaster"
	MasterName string

	// Server holds the data servers' options (AOF, Config, Executable...). Port must be 0 and Unix
	// false: Sentinel and replication need TCP on ports of their own.
	Server Options
}

// SentinelGroup is a master and its replicas watched by one Sentinel with quorum 1: the setup of the
// book's section 4.3.2 (replacing a failed master), with Sentinel doing the replacing. One Sentinel
// decides alone, so a failover starts as soon as it sees the master down; production deployments run
// three or more so that one Sentinel's view of the network cannot demote a healthy master, which a
// test on loopback does not need.
//
// Servers keep their addresses, so after Failover the master is another element of Servers: ask
// Master.
type SentinelGroup struct {
	Servers    []*Server // the data servers; Servers[0] was the first master
	Sentinel   *Server
	MasterName string

	mu        sync.Mutex // serializes Failover
	failovers int
}

// Fault is how Failover takes the master down.
type Fault int

const (
	// FaultKill is SIGKILL: the master's memory is gone; it comes back with Restart, empty (no
	// persistence unless Options.AOF), and resyncs from the new master.
	FaultKill Fault = iota + 1
	// FaultPause is SIGSTOP: the master hangs with its connections open; it comes back with SIGCONT,
	// still believing it is the master, with whatever it had, and with the commands its clients sent
	// meanwhile, until it is made a replica of the new master.
	FaultPause
)

func (f Fault) String() string {
	switch f {
	case FaultKill:
		return "SIGKILL"
	case FaultPause:
		return "SIGSTOP"
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// ErrFailover is matched by every *FailoverError.
var ErrFailover = errors.New("redistest: failover did not complete")

// FailoverError says which step of a failover (or of settling) did not complete, and why: ctx's
// error when it ended first (matched by errors.Is), or the last check that failed.
type FailoverError struct {
	Step string // "fault", "promote", "revive", "settle"
	Old  string // the master taken down ("" for a settle outside Failover)
	Err  error
}

func (e *FailoverError) Error() string {
	s := "redistest: failover: " + e.Step
	if e.Old != "" {
		s += " (old master " + e.Old + ")"
	}
	return s + ": " + e.Err.Error()
}

func (e *FailoverError) Unwrap() []error { return []error{ErrFailover, e.Err} }

// Failed is what one Failover did.
type Failed struct {
	Fault Fault
	// Old is the master taken down, Successor the replica the Sentinel promoted in its place, and
	// New the master once settled: Successor, unless the Sentinel failed over again by itself
	// (Extra > 0), when New may be any server of the group, Old included.
	Old, Successor, New string
	// Promoted is from the fault to the Sentinel naming Successor, and Successor reporting
	// role:master; Settled from the fault to the group settled.
	Promoted, Settled time.Duration
	// Epoch is the Sentinel's config epoch once settled. It grows by one for each failover the
	// Sentinel started: Extra counts those beyond the one asked for. The Sentinel took a master that
	// was up for down, because it did not answer a PING within DownAfter of its promotion (a machine
	// too busy), or gave up an attempt; either is its decision, and the group is settled all the same.
	Epoch int64
	Extra int
}

// RunSentinelGroup starts the master, its replicas (all linked and synced) and the Sentinel, and
// returns once the Sentinel knows every replica.
func RunSentinelGroup(ctx context.Context, opt *SentinelGroupOptions) (*SentinelGroup, error) {
	var o SentinelGroupOptions
	if opt != nil {
		o = *opt
	}
	if o.Replicas < 0 {
		return nil, fmt.Errorf("%w: SentinelGroupOptions.Replicas %d", ErrInvalid, o.Replicas)
	}
	if o.Replicas == 0 {
		o.Replicas = 2
	}
	if o.DownAfter <= 0 {
		o.DownAfter = time.Second
	}
	if o.FailoverTimeout <= 0 {
		o.FailoverTimeout = 2 * time.Second
	}
	if o.MasterName == "" {
		o.MasterName = "mymaster"
	}
	if err := checkTopology("RunSentinelGroup", &o.Server); err != nil {
		return nil, err
	}
	if o.Server.Unix {
		return nil, fmt.Errorf("%w: a Sentinel group needs TCP (Unix must be false)", ErrInvalid)
	}
	m, err := Run(ctx, &o.Server)
	if err != nil {
		return nil, err
	}
	g := &SentinelGroup{Servers: []*Server{m}, MasterName: o.MasterName}
	ro := o.Server
	ro.Config = append(append([]string(nil), o.Server.Config...), fmt.Sprintf("replicaof %s %d", m.opt.Host, m.Port()))
	if o.Server.Password != "" {
		ro.Config = append(ro.Config, "masterauth "+quote(o.Server.Password))
	}
	for range o.Replicas {
		r, err := Run(ctx, &ro)
		if err != nil {
			g.Close()
			return nil, err
		}
		g.Servers = append(g.Servers, r)
	}
	for _, r := range g.Servers[1:] {
		if err := WaitLinkUp(ctx, r); err != nil {
			g.Close()
			return nil, err
		}
	}
	g.Sentinel, err = RunSentinel(ctx, m, &SentinelOptions{MasterName: o.MasterName, DownAfter: o.DownAfter,
		FailoverTimeout: o.FailoverTimeout, Server: Options{Executable: o.Server.Executable, Host: o.Server.Host}})
	if err != nil {
		g.Close()
		return nil, err
	}
	if _, err := g.Settle(ctx); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// RunSentinelGroupT is RunSentinelGroup for a test.
func RunSentinelGroupT(t testing.TB, opt *SentinelGroupOptions) *SentinelGroup {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := RunSentinelGroup(ctx, opt)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// Close closes the Sentinel and every server.
func (g *SentinelGroup) Close() error {
	var errs []error
	if g.Sentinel != nil {
		errs = append(errs, g.Sentinel.Close())
	}
	for _, s := range g.Servers {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// Failovers is the number of Failover calls that completed.
func (g *SentinelGroup) Failovers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failovers
}

// Master is the server the Sentinel names as the master now.
func (g *SentinelGroup) Master(ctx context.Context) (*Server, error) {
	addr, err := SentinelMaster(ctx, g.Sentinel, g.MasterName)
	if err != nil {
		return nil, err
	}
	return g.server(addr)
}

func (g *SentinelGroup) server(addr string) (*Server, error) {
	for _, s := range g.Servers {
		if s.Addr() == addr {
			return s, nil
		}
	}
	return nil, fmt.Errorf("redistest: the sentinel names %s, not a server of the group", addr)
}

// Replicas are the servers other than master, in Servers' order.
func (g *SentinelGroup) Replicas(master *Server) []*Server {
	var out []*Server
	for _, s := range g.Servers {
		if s != master {
			out = append(out, s)
		}
	}
	return out
}

// Failover takes the current master down with fault, waits until the Sentinel names a new master
// that reports role:master and has reconfigured the other replicas, brings the old master back
// (Restart after FaultKill, SIGCONT after FaultPause) as a replica of the new one, and waits until
// the group is settled (see Settle). The old master is pointed at the new one at once, with REPLICAOF:
// Sentinel would do the same, but only after it has seen it report role:master for 8 seconds.
// When the Sentinel fails over again meanwhile (Failed.Extra), Failover waits until the group has
// settled around the master it names then; a master it demoted without a fault is left to it (it
// makes it a replica once it has seen it report role:master for 8 seconds, at its next INFO).
// Errors are *FailoverError values; once ctx has ended they match its error.
func (g *SentinelGroup) Failover(ctx context.Context, fault Fault) (Failed, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := Failed{Fault: fault}
	if fault != FaultKill && fault != FaultPause {
		return f, &FailoverError{Step: "fault", Err: fmt.Errorf("%w: %v", ErrInvalid, fault)}
	}
	old, err := g.Master(ctx)
	if err != nil {
		return f, &FailoverError{Step: "fault", Err: err}
	}
	f.Old = old.Addr()
	before, err := g.epoch(ctx)
	if err != nil {
		return f, &FailoverError{Step: "fault", Err: err}
	}
	fail := func(step string, err error) (Failed, error) {
		return f, &FailoverError{Step: step, Old: f.Old, Err: noretry.CtxErr(ctx, err)}
	}
	start := time.Now()
	if fault == FaultKill {
		err = old.Kill()
	} else {
		err = old.Pause()
	}
	if err != nil {
		return fail("fault", err)
	}
	revived := false
	revive := func() error {
		if revived {
			return nil
		}
		revived = true
		if fault == FaultKill {
			return old.Restart(ctx)
		}
		return old.Resume()
	}
	// Whatever happens, the old master does not stay down: the next test step needs its server.
	defer func() {
		if !revived {
			_ = revive()
		}
	}()

	var nm *Server
	err = poll(ctx, func() error {
		addr, err := SentinelMaster(ctx, g.Sentinel, g.MasterName)
		if err != nil {
			return err
		}
		if addr == f.Old {
			return errors.New("the sentinel still names the old master")
		}
		if nm, err = g.server(addr); err != nil {
			return err
		}
		if _, err := hasRole(ctx, nm, "master", nil); err != nil {
			return err
		}
		// The other replicas follow the new master before the old one comes back: an old master
		// restarted empty must not be the one they sync from.
		for _, r := range g.Replicas(nm) {
			if r != old {
				if _, err := hasRole(ctx, r, "slave", nm); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fail("promote", err)
	}
	f.Successor, f.Promoted = nm.Addr(), time.Since(start)

	if err := revive(); err != nil {
		return fail("revive", err)
	}
	err = poll(ctx, func() error {
		c := old.NewClient()
		defer c.Close()
		return c.SlaveOf(ctx, nm.opt.Host, strconv.Itoa(nm.Port())).Err()
	})
	if err != nil {
		return fail("revive", err)
	}
	m, epoch, err := g.settle(ctx)
	if err != nil {
		return fail("settle", err)
	}
	f.New, f.Epoch, f.Settled = m.Addr(), epoch, time.Since(start)
	f.Extra = max(int(epoch-before)-1, 0)
	g.failovers++
	return f, nil
}

// Settle waits until the group is settled: the Sentinel names a master that reports role:master and
// is in no failover; every other server reports role:slave of it with its link up and no sync in
// progress; the master counts them all as connected replicas; and the Sentinel lists them all as
// healthy replicas. It returns the master. Errors are *FailoverError values with Step "settle".
func (g *SentinelGroup) Settle(ctx context.Context) (*Server, error) {
	m, _, err := g.settle(ctx)
	if err != nil {
		return nil, &FailoverError{Step: "settle", Err: noretry.CtxErr(ctx, err)}
	}
	return m, nil
}

// settle is Settle, also returning the Sentinel's config epoch. It follows whichever master the
// Sentinel names, so a failover the Sentinel starts by itself meanwhile is waited for too.
func (g *SentinelGroup) settle(ctx context.Context) (*Server, int64, error) {
	sc := g.sentinelClient()
	defer sc.Close()
	var m *Server
	var epoch int64
	err := poll(ctx, func() error {
		var err error
		if m, err = g.Master(ctx); err != nil {
			return err
		}
		state, err := sc.Master(ctx, g.MasterName).Result()
		if err != nil {
			return err
		}
		if state["flags"] != "master" {
			return fmt.Errorf("the sentinel flags the master %q", state["flags"])
		}
		if net.JoinHostPort(state["ip"], state["port"]) != m.Addr() {
			return errors.New("the sentinel's master changed")
		}
		epoch, _ = strconv.ParseInt(state["config-epoch"], 10, 64)
		info, err := hasRole(ctx, m, "master", nil)
		if err != nil {
			return err
		}
		replicas := g.Replicas(m)
		if info["connected_slaves"] != strconv.Itoa(len(replicas)) {
			return fmt.Errorf("master %s has %s connected replicas; want %d", m.Addr(), info["connected_slaves"], len(replicas))
		}
		for _, r := range replicas {
			ri, err := hasRole(ctx, r, "slave", m)
			if err != nil {
				return err
			}
			if ri["master_link_status"] != "up" || ri["master_sync_in_progress"] == "1" {
				return fmt.Errorf("replica %s: link %s, sync in progress %s", r.Addr(), ri["master_link_status"], ri["master_sync_in_progress"])
			}
		}
		known, err := sc.Replicas(ctx, g.MasterName).Result()
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, k := range known {
			if k["flags"] == "slave" && k["master-link-status"] == "ok" {
				seen[net.JoinHostPort(k["ip"], k["port"])] = true
			}
		}
		for _, r := range replicas {
			if !seen[r.Addr()] {
				return fmt.Errorf("the sentinel does not list %s as a healthy replica yet", r.Addr())
			}
		}
		return nil
	})
	return m, epoch, err
}

func (g *SentinelGroup) sentinelClient() *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: g.Sentinel.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
}

// epoch is the Sentinel's config epoch for the master.
func (g *SentinelGroup) epoch(ctx context.Context) (int64, error) {
	sc := g.sentinelClient()
	defer sc.Close()
	state, err := sc.Master(ctx, g.MasterName).Result()
	if err != nil {
		return 0, noretry.CtxErr(ctx, err)
	}
	return strconv.ParseInt(state["config-epoch"], 10, 64)
}

// hasRole checks INFO replication's role of s, and, for a replica when of is not nil, that it
// follows of. It returns the INFO fields.
func hasRole(ctx context.Context, s *Server, role string, of *Server) (map[string]string, error) {
	c := s.NewClient()
	defer c.Close()
	text, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Addr(), err)
	}
	info := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			info[k] = v
		}
	}
	if info["role"] != role {
		return info, fmt.Errorf("%s reports role:%s; want %s", s.Addr(), info["role"], role)
	}
	if of != nil && net.JoinHostPort(info["master_host"], info["master_port"]) != of.Addr() {
		return info, fmt.Errorf("%s follows %s:%s; want %s", s.Addr(), info["master_host"], info["master_port"], of.Addr())
	}
	return info, nil
}
