package redistest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

const clusterSlots = 16384

// ClusterOptions configure a Redis Cluster.
type ClusterOptions struct {
	// Masters is the number of masters; the slots are split evenly among them.
	// default: 3
	Masters int

	// ReplicasPerMaster is the number of replicas of each master; -1 means none.
	// default: 1
	ReplicasPerMaster int

	// NodeTimeout is cluster-node-timeout: how long a node may be unreachable before failover.
	// default: 3 seconds
	NodeTimeout time.Duration

	// Server holds options applied to every node (AOF, Config, Executable, ...). Unix is not allowed.
	Server Options
}

func (o *ClusterOptions) init() {
	if o.Masters <= 0 {
		o.Masters = 3
	}
	if o.ReplicasPerMaster < 0 {
		o.ReplicasPerMaster = 0
	} else if o.ReplicasPerMaster == 0 {
		o.ReplicasPerMaster = 1
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = 3 * time.Second
	}
}

// Cluster is a Redis Cluster of real servers. Nodes lists the initial masters first, then the replicas
// (replica i*ReplicasPerMaster+j of Masters' node i); roles may change after a failover.
type Cluster struct {
	Nodes    []*Server
	opt      ClusterOptions
	password string
}

// RunCluster starts the nodes, assigns the slots, joins them into one cluster, attaches the replicas
// and waits until every node reports cluster_state:ok with the same view of the slots.
// It uses only cluster commands (no redis-cli), so it needs nothing beyond redis-server.
func RunCluster(ctx context.Context, opt *ClusterOptions) (*Cluster, error) {
	var o ClusterOptions
	if opt != nil {
		o = *opt
	}
	o.init()
	if o.Server.Unix {
		return nil, fmt.Errorf("%w: a cluster needs TCP (Server.Unix must be false)", ErrInvalid)
	}
	if err := checkTopology("RunCluster", &o.Server); err != nil {
		return nil, err
	}
	so := o.Server
	so.needBusPort = true
	so.Config = append(append([]string(nil), o.Server.Config...),
		"cluster-enabled yes",
		"cluster-config-file nodes.conf",
		fmt.Sprintf("cluster-node-timeout %d", o.NodeTimeout.Milliseconds()),
	)
	if so.Password != "" {
		so.Config = append(so.Config, "masterauth "+quote(so.Password))
	}
	n := o.Masters * (1 + o.ReplicasPerMaster)
	g, err := RunShards(ctx, n, &so)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Nodes: g, opt: o, password: so.Password}
	if err := c.create(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("redistest: create cluster: %w", err)
	}
	return c, nil
}

// RunClusterT is RunCluster for a test.
func RunClusterT(t testing.TB, opt *ClusterOptions) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := RunCluster(ctx, opt)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (c *Cluster) create(ctx context.Context) error {
	clients := make([]*redis.Client, len(c.Nodes))
	for i, s := range c.Nodes {
		clients[i] = s.NewClient()
		defer clients[i].Close()
	}
	ids := make([]string, len(c.Nodes))
	for i, cl := range clients {
		id, err := cl.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			return err
		}
		ids[i] = id
		// Distinct epochs, as redis-cli does, so the nodes need not resolve epoch collisions.
		if err := cl.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return err
		}
	}
	m := c.opt.Masters
	for i := 0; i < m; i++ {
		lo, hi := i*clusterSlots/m, (i+1)*clusterSlots/m-1
		if err := clients[i].Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return err
		}
	}
	for i := 1; i < len(c.Nodes); i++ {
		s := c.Nodes[i]
		if err := clients[0].ClusterMeet(ctx, s.opt.Host, strconv.Itoa(s.Port())).Err(); err != nil {
			return err
		}
	}
	// A replica can only be attached once it knows its master.
	if err := poll(ctx, func() error {
		for i, cl := range clients {
			nodes, err := cl.ClusterNodes(ctx).Result()
			if err != nil {
				return err
			}
			known := strings.Count(strings.TrimSpace(nodes), "\n") + 1
			if known < len(c.Nodes) || strings.Contains(nodes, "handshake") {
				return fmt.Errorf("node %d knows %d of %d nodes", i, known, len(c.Nodes))
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for i := m; i < len(c.Nodes); i++ {
		master := (i - m) / c.opt.ReplicasPerMaster
		if err := clients[i].ClusterReplicate(ctx, ids[master]).Err(); err != nil {
			return err
		}
	}
	return c.WaitHealthy(ctx)
}

// WaitHealthy waits until every running node reports cluster_state:ok, all slots are served by
// running masters, and every running replica's link to its master is up and acknowledging, as
// WaitLinkUp says (so a WAIT on a master counts its replicas from the start).
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	if err := c.waitNodesOK(ctx); err != nil {
		return err
	}
	replicas, err := c.Replicas(ctx)
	if err != nil {
		return err
	}
	for _, r := range replicas {
		if err := WaitLinkUp(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) waitNodesOK(ctx context.Context) error {
	return poll(ctx, func() error {
		down := map[string]bool{} // nodes we killed stay listed as failed; that is expected
		for _, s := range c.Nodes {
			if !s.Running() {
				down[s.Addr()] = true
			}
		}
		for _, s := range c.Nodes {
			if !s.Running() {
				continue
			}
			cl := s.NewClient()
			err := nodeHealthy(ctx, cl, down)
			cl.Close()
			if err != nil {
				return fmt.Errorf("node %s: %w", s.Addr(), err)
			}
		}
		return nil
	})
}

func nodeHealthy(ctx context.Context, cl *redis.Client, down map[string]bool) error {
	info, err := cl.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
		return errors.New("cluster not ok yet")
	}
	nodes, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || down[strings.SplitN(f[1], "@", 2)[0]] {
			continue
		}
		if strings.Contains(f[2], "fail") || f[7] != "connected" {
			return fmt.Errorf("node %s is %s/%s", f[1], f[2], f[7])
		}
	}
	repl, err := cl.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
		return errors.New("replica link not up yet")
	}
	return nil
}

// Addrs lists every node's address (seeds for a cluster client).
func (c *Cluster) Addrs() []string { return Group(c.Nodes).Addrs() }

// Masters returns the nodes that currently act as masters (asking each node).
func (c *Cluster) Masters(ctx context.Context) ([]*Server, error) {
	return c.withRole(ctx, "role:master")
}

// Replicas returns the nodes that currently act as replicas.
func (c *Cluster) Replicas(ctx context.Context) ([]*Server, error) {
	return c.withRole(ctx, "role:slave")
}

func (c *Cluster) withRole(ctx context.Context, role string) ([]*Server, error) {
	var out []*Server
	for _, s := range c.Nodes {
		if !s.Running() {
			continue
		}
		cl := s.NewClient()
		info, err := cl.Info(ctx, "replication").Result()
		cl.Close()
		if err != nil {
			// An i/o timeout from ctx's deadline is ctx's error.
			return nil, noretry.CtxErr(ctx, fmt.Errorf("redistest: %s: %w", s.Addr(), err))
		}
		if strings.Contains(info, role+"\r\n") {
			out = append(out, s)
		}
	}
	return out, nil
}

// ReplicaOf returns a running replica of master, by master's ROLE (the first in Nodes' order when it
// has several). ROLE, not CLUSTER NODES: a master learns by gossip, some time after the replica's link
// is up, that a node is its replica. A master with none, or a server that is not one of c's masters,
// is ErrInvalid.
func (c *Cluster) ReplicaOf(ctx context.Context, master *Server) (_ *Server, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if err := c.member(master); err != nil {
		return nil, err
	}
	cl := master.NewClient()
	reply, err := cl.Do(ctx, "role").Result()
	cl.Close()
	if err != nil {
		return nil, fmt.Errorf("redistest: replica of %s: %w", master.Addr(), err)
	}
	_, replicas, err := parseRole(reply)
	if err != nil {
		return nil, fmt.Errorf("%w: replica of %s: %v", ErrInvalid, master.Addr(), err)
	}
	for _, s := range c.Nodes {
		if _, ok := replicas[s.Port()]; ok && s.Running() {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w: %s has no running replica", ErrInvalid, master.Addr())
}

// MoveEnds returns the master serving key's slot and another master: where a test moves the slot
// from, and to (MoveSlot). A cluster of one master has no other: ErrInvalid.
func (c *Cluster) MoveEnds(ctx context.Context, key string) (from, to *Server, err error) {
	if from, err = c.NodeForKey(ctx, key); err != nil {
		return nil, nil, err
	}
	masters, err := c.Masters(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range masters {
		if m != from {
			return from, m, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: no master but %s to move %q's slot to", ErrInvalid, from.Addr(), key)
}

// NodeForKey returns the node that currently serves key's slot as master. It asks the running nodes
// in turn, skipping one that fails; when none can say, the error wraps the last node's error (ctx's,
// when it ended), so a timeout is not mistaken for an unserved slot.
func (c *Cluster) NodeForKey(ctx context.Context, key string) (_ *Server, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	var last error
	for _, s := range c.Nodes {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("redistest: node for key %q: %w", key, err)
		}
		if !s.Running() {
			continue
		}
		cl := s.NewClient()
		slot, err := cl.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			cl.Close()
			last = fmt.Errorf("%s: %w", s.Addr(), err)
			continue
		}
		slots, err := cl.ClusterSlots(ctx).Result()
		cl.Close()
		if err != nil {
			last = fmt.Errorf("%s: %w", s.Addr(), err)
			continue
		}
		for _, r := range slots {
			if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
				for _, n := range c.Nodes {
					if n.Addr() == r.Nodes[0].Addr {
						return n, nil
					}
				}
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redistest: node for key %q: %w", key, err)
	}
	if last != nil {
		return nil, fmt.Errorf("redistest: no node could say which serves key %q: %w", key, last)
	}
	return nil, fmt.Errorf("redistest: no node serves key %q", key)
}

// ClusterOptions are go-redis options for this cluster, with short timeouts suited to tests.
func (c *Cluster) ClusterOptions() *redis.ClusterOptions {
	return &redis.ClusterOptions{
		Addrs:                 c.Addrs(),
		Password:              c.password,
		DialTimeout:           2 * time.Second,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1, // a retried INCR whose reply was lost is applied twice
	}
}

// NewClient returns a new cluster client; the caller closes it.
func (c *Cluster) NewClient() *redis.ClusterClient { return redis.NewClusterClient(c.ClusterOptions()) }

// Client returns a new cluster client that is closed when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient { return c.ClientWith(t, nil) }

// ClientWith returns a new cluster client that is closed when the test ends, with change (if not nil)
// applied to a copy of ClusterOptions first (Redirects.Count, a pool size, ReadOnly, ...).
func (c *Cluster) ClientWith(t testing.TB, change func(*redis.ClusterOptions)) *redis.ClusterClient {
	cl := c.NewClientWith(change)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// NewClientWith is ClientWith for a client the caller closes.
func (c *Cluster) NewClientWith(change func(*redis.ClusterOptions)) *redis.ClusterClient {
	opt := c.ClusterOptions()
	if change != nil {
		change(opt)
	}
	return redis.NewClusterClient(opt)
}

// Close closes every node.
func (c *Cluster) Close() error { return Group(c.Nodes).Close() }
