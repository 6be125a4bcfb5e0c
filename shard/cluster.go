package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
)

// Options configure a Cluster.
type Options struct {
	// Hosts maps host ids to their configs in conn's JSON form (the book's redis-py keywords, as rb
	// takes them: {"port": 6380, "db": 2}, or {"addr": "10.0.0.5:6379"}, {"url": ...}). Ids must be
	// 0..n-1 without gaps, as rb's routers require. Unused by FromRegistry.
	Hosts map[int]map[string]any

	// HostDefaults fills in the fields a host's config leaves out, like rb's host_defaults
	// ({"host": "127.0.0.1", "socket_timeout": 1}).
	// default: none
	HostDefaults map[string]any

	// Router makes the router for n hosts. A Partition or ConsistentHash over other host ids than
	// 0..n-1 (a ring node id of n or more, or an id left out) is refused with ErrBadHosts; a command
	// whose key another Router sends outside 0..n-1 fails with ErrNoHost.
	// default: NewPartition (rb's PartitionRouter)
	Router func(n int) (Router, error)

	// MaxConcurrency bounds how many hosts one Map, Fanout or All talks to at the same time. As in
	// go-redis's options, 0 means the default and -1 means off: no bound, every host at once. Any
	// other value below 1 is refused by New and FromRegistry with an *OptionError.
	// default: 64 (rb's max_concurrency)
	MaxConcurrency int

	// NoAutoBatch turns auto-batching off: each GET and SET is sent as it is. Useful when MONITOR
	// should show the commands as written, and when a GET of a key holding another type must fail
	// with WRONGTYPE: a batched GET gets redis.Nil there, as MGET answers nil for such a key.
	// (*Cluster).AutoBatch switches it for one view.
	// default: false (consecutive GETs to a host become one MGET, plain SETs one MSET)
	NoAutoBatch bool

	// AllowInsecureTLS lets a host's config turn TLS verification off (ssl_cert_reqs "none",
	// ssl_check_hostname false, skip_verify); without it New refuses such a host with an error
	// wrapping conn.ErrInsecureTLS, as conn.Registry does. Unused by FromRegistry, whose registry
	// decides.
	// default: false
	AllowInsecureTLS bool

	// NewClient makes a host's client from its parsed config. Clients it returns should have
	// ContextTimeoutEnabled and no retries, as conn's do, so a deadline bounds every call and a write
	// whose reply was lost is not applied twice.
	// default: (*conn.Config).NewClient, or NewClientAllowInsecure with AllowInsecureTLS
	NewClient func(host int, cfg *conn.Config) (redis.UniversalClient, error)
}

func (o *Options) init() error {
	switch {
	case o.MaxConcurrency == 0:
		o.MaxConcurrency = 64
	case o.MaxConcurrency < -1:
		return &OptionError{Field: "MaxConcurrency", Value: o.MaxConcurrency, Rule: "want 1 or more, 0 for the default (64), or -1 for no bound"}
	}
	if o.Router == nil {
		o.Router = func(n int) (Router, error) { return NewPartition(n) }
	}
	if o.NewClient == nil {
		allow := o.AllowInsecureTLS
		o.NewClient = func(_ int, cfg *conn.Config) (redis.UniversalClient, error) {
			if allow {
				return cfg.NewClientAllowInsecure()
			}
			return cfg.NewClient()
		}
	}
	return nil
}

// Cluster is rb's Cluster on go-redis: a set of independent Redis hosts with integer ids, a router
// that maps each key to one host, a routing client for single-key commands, and Map / Fanout / All,
// which send many commands to many hosts in parallel, one pipeline per host. It is not replicated: a
// host that is down fails the commands for its keys, which are never sent anywhere else.
//
// A Cluster is safe for concurrent use. Views made by AutoBatch share its hosts.
type Cluster struct {
	core      *core
	autoBatch bool
}

type core struct {
	hosts   []host
	router  Router
	opt     Options
	reg     *conn.Registry // FromRegistry: hosts are components; nil otherwise
	routing [2]*redis.Client
	closed  atomic.Bool
}

type host struct {
	id        int
	name      string                // address or component, for errors
	client    redis.UniversalClient // made by New; nil with a registry
	component string                // FromRegistry
}

// New connects a cluster to the hosts in opt.Hosts. It makes the hosts' clients (go-redis dials
// lazily, so a host that is down is not an error here) and the router.
func New(opt *Options) (*Cluster, error) {
	var o Options
	if opt != nil {
		o = *opt
	}
	if err := o.init(); err != nil {
		return nil, err
	}
	n := len(o.Hosts)
	if n == 0 {
		return nil, fmt.Errorf("%w: no hosts", ErrBadHosts)
	}
	c := &core{opt: o, hosts: make([]host, n)}
	for id := 0; id < n; id++ {
		hc, ok := o.Hosts[id]
		if !ok {
			return nil, fmt.Errorf("%w: expected host %d (ids must be 0..%d without gaps)", ErrBadHosts, id, n-1)
		}
		merged := maps.Clone(o.HostDefaults)
		if merged == nil {
			merged = map[string]any{}
		}
		// A host that names its server one way replaces a default that names it another way.
		if hasAny(hc, "addr", "url", "unix_socket_path") || (hasAny(hc, "host", "port") && hasAny(merged, "addr", "url", "unix_socket_path")) {
			for _, k := range []string{"addr", "url", "unix_socket_path", "host", "port"} {
				if _, own := hc[k]; !own {
					delete(merged, k)
				}
			}
		}
		maps.Copy(merged, hc)
		raw, err := json.Marshal(merged)
		if err != nil {
			c.closeClients()
			return nil, fmt.Errorf("%w: host %d: %v", ErrBadHosts, id, err)
		}
		cfg, err := conn.ParseConfig(raw)
		if err != nil {
			c.closeClients()
			return nil, fmt.Errorf("%w: host %d: %w", ErrBadHosts, id, err)
		}
		if cfg.Insecure() && !o.AllowInsecureTLS {
			c.closeClients()
			return nil, fmt.Errorf("%w: host %d: %w", ErrBadHosts, id, &conn.ConfigError{Field: "ssl", Err: conn.ErrInsecureTLS})
		}
		client, err := o.NewClient(id, cfg)
		if err != nil {
			c.closeClients()
			return nil, fmt.Errorf("%w: host %d: %w", ErrBadHosts, id, err)
		}
		name := cfg.Addr
		if cfg.Addr == "" {
			name = strings.Join(cfg.Addrs, ",")
		}
		c.hosts[id] = host{id: id, name: name, client: client}
	}
	return c.finish()
}

func hasAny(m map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// FromRegistry makes a cluster of n hosts whose clients come from reg: host i is component
// "<name>:<i>", configured at config:redis:<name>:<i> (the layout of the book's sharded connections).
// Each operation acquires the hosts' clients from the registry and releases them, so config changes
// apply as the registry sees them. opt.Hosts, HostDefaults and NewClient are not used; the cluster
// does not close reg.
func FromRegistry(reg *conn.Registry, name string, n int, opt *Options) (*Cluster, error) {
	var o Options
	if opt != nil {
		o = *opt
	}
	if err := o.init(); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("%w: %d hosts", ErrBadHosts, n)
	}
	if reg == nil {
		return nil, fmt.Errorf("%w: nil registry", ErrBadHosts)
	}
	c := &core{opt: o, reg: reg, hosts: make([]host, n)}
	for id := range c.hosts {
		comp := ShardComponent(name, id)
		c.hosts[id] = host{id: id, name: comp, component: comp}
	}
	return c.finish()
}

func (c *core) finish() (*Cluster, error) {
	r, err := c.opt.Router(len(c.hosts))
	if err != nil {
		c.closeClients()
		return nil, fmt.Errorf("%w: router: %w", ErrBadHosts, err)
	}
	if err := checkRouter(r, len(c.hosts)); err != nil {
		c.closeClients()
		return nil, err
	}
	c.router = r
	for i, batch := range []bool{false, true} {
		c.routing[i] = newRoutingClient(c, batch)
	}
	return &Cluster{core: c, autoBatch: !c.opt.NoAutoBatch}, nil
}

// checkRouter rejects a router built for other hosts than the cluster's 0..n-1 (rb's
// assert_gapless_hosts): a ring with a node id of n or more would send keys to a host that does not
// exist, and one that leaves an id out, or gives a host no point, would never use that host. A
// custom Router cannot be checked so: its answers are checked key by key (hostFor).
func checkRouter(r Router, n int) error {
	switch r := r.(type) {
	case nil:
		return fmt.Errorf("%w: router is nil", ErrBadHosts)
	case *Partition:
		if r.n != n {
			return fmt.Errorf("%w: partition router over %d hosts for a cluster of %d", ErrBadHosts, r.n, n)
		}
	case *ConsistentHash:
		reach := make([]bool, n)
		for _, id := range r.owner {
			if id >= n {
				return fmt.Errorf("%w: ring node host %d; want ids 0..%d", ErrBadHosts, id, n-1)
			}
			reach[id] = true
		}
		for id, ok := range reach {
			if !ok {
				return fmt.Errorf("%w: no key reaches host %d: the ring has no point for it (ring hosts %v)", ErrBadHosts, id, r.ids)
			}
		}
	}
	return nil
}

// route asks the router for key's host, through CheckedHostForKey when the router has it.
func (c *core) route(key string) (int, error) {
	if cr, ok := c.router.(CheckedRouter); ok {
		return cr.CheckedHostForKey(key)
	}
	return c.router.HostForKey(key), nil
}

// hostFor is the router's host for key, checked: a key the router refuses, or a custom Router's
// answer outside 0..n-1, fails the command instead of indexing past the hosts.
func (c *core) hostFor(cmd redis.Cmder, key string) (int, error) {
	id, err := c.checkedHost(key)
	if err != nil {
		return 0, &UnroutableError{Command: commandLabel(cmd.Args()), Reason: "the router has no host for its key", Err: err}
	}
	return id, nil
}

// checkedHost is route with the answer checked against the hosts.
func (c *core) checkedHost(key string) (int, error) {
	id, err := c.route(key)
	if err != nil {
		return 0, err
	}
	if id < 0 || id >= len(c.hosts) {
		return 0, fmt.Errorf("%w: router sent key %q to host %d (hosts are 0..%d)", ErrNoHost, key, id, len(c.hosts)-1)
	}
	return id, nil
}

// newRoutingClient returns a go-redis client that never connects anywhere: a hook takes every command
// and pipeline and sends it to the hosts. So the routing client has go-redis's whole command API.
func newRoutingClient(c *core, batch bool) *redis.Client {
	rc := redis.NewClient(&redis.Options{
		Addr:       "shard-routing-client",
		MaxRetries: -1,
		Dialer: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return nil, ctxErr(ctx, &UnroutableError{Command: "connection", Reason: "the routing client has no connection of its own " +
				"(WATCH, pub/sub, Conn need one); use the client Cluster.ClientForKey returns"})
		},
		ContextTimeoutEnabled: true,
	})
	rc.AddHook(routingHook{c: c, batch: batch})
	return rc
}

func (c *core) closeClients() {
	for _, h := range c.hosts {
		if h.client != nil {
			h.client.Close()
		}
	}
}

// Close closes the clients New made and the routing clients. It does not close a registry.
func (cl *Cluster) Close() error {
	c := cl.core
	if c.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, h := range c.hosts {
		if h.client != nil {
			errs = append(errs, h.client.Close())
		}
	}
	for _, rc := range c.routing {
		if rc != nil {
			errs = append(errs, rc.Close())
		}
	}
	return errors.Join(errs...)
}

// AutoBatch returns a view of the cluster with auto-batching on or off; it shares the hosts.
func (cl *Cluster) AutoBatch(on bool) *Cluster { return &Cluster{core: cl.core, autoBatch: on} }

// Hosts returns the host ids, 0..n-1.
func (cl *Cluster) Hosts() []int {
	ids := make([]int, len(cl.core.hosts))
	for i := range ids {
		ids[i] = i
	}
	return ids
}

// Router returns the cluster's router.
func (cl *Cluster) Router() Router { return cl.core.router }

// HostForKey returns the id of the host that holds key: the router's answer, -1 for a key the
// router refuses (ClientForKey says why). key is the bytes the server sees: for a key argument that
// is not a string, the bytes go-redis writes for it (a uuid.UUID's 16 raw bytes, float64(1e21) as
// "1000000000000000000000"), which is what the routing client hashes.
func (cl *Cluster) HostForKey(key string) int {
	id, err := cl.core.route(key)
	if err != nil {
		return -1
	}
	return id
}

// Routing returns the routing client (rb's get_routing_client): a go-redis client whose every command
// goes to the host of its key. It accepts commands with exactly one key (which may repeat, as in
// LMOVE k k ...); MGET, MSET, DEL, UNLINK, EXISTS and TOUCH over several keys are split per host and
// their results put back together (not atomic across hosts). Anything else fails with an error
// wrapping ErrUnroutable: commands without a key (use Fanout), with more than one distinct key (even
// keys on one host: the router is asked about one key only), and WATCH, MULTI and pub/sub, which
// need a connection of their own (use the client ClientForKey returns). A key is hashed as the
// bytes go-redis writes for it, whatever its Go type; a command with an argument go-redis cannot
// write is refused with an *ArgError (ErrBadArg) and not sent. Its Pipeline and
// Pipelined are Map's: one pipeline per host, hosts in parallel. Do not close it; Close the cluster.
func (cl *Cluster) Routing() *redis.Client {
	if cl.autoBatch {
		return cl.core.routing[1]
	}
	return cl.core.routing[0]
}

// Acquire returns host id's client, held until release is called (a registry may replace it after).
// Once ctx has ended it fails with an error wrapping ctx.Err().
func (cl *Cluster) Acquire(ctx context.Context, id int) (_ redis.UniversalClient, _ func(), err error) {
	defer func() { err = ctxErr(ctx, err) }()
	c := cl.core
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if c.closed.Load() {
		return nil, nil, ErrClosed
	}
	if id < 0 || id >= len(c.hosts) {
		return nil, nil, fmt.Errorf("%w: %d (hosts are 0..%d)", ErrNoHost, id, len(c.hosts)-1)
	}
	h := c.hosts[id]
	if c.reg == nil {
		return h.client, func() {}, nil
	}
	client, release, err := c.reg.Acquire(ctx, h.component)
	if err != nil {
		return nil, nil, &HostError{Host: id, Addr: h.name, Err: ctxErr(ctx, err)}
	}
	return client, release, nil
}

// Host returns host id's client (rb's get_local_client): commands on it run immediately on that host.
// With a registry, the client may be replaced after a config change; prefer Acquire for long use.
func (cl *Cluster) Host(ctx context.Context, id int) (redis.UniversalClient, error) {
	client, release, err := cl.Acquire(ctx, id)
	if err != nil {
		return nil, err
	}
	release()
	return client, nil
}

// ClientForKey returns the client of the host that holds key, and that host's id
// (rb's get_local_client_for_key): the one for WATCH/MULTI, scripts and anything else the routing
// client refuses. A key the router refuses fails (a Python3 Partition: ErrNotLatin1), as does a
// custom router's id outside the hosts (ErrNoHost).
func (cl *Cluster) ClientForKey(ctx context.Context, key string) (_ redis.UniversalClient, _ int, err error) {
	defer func() { err = ctxErr(ctx, err) }()
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	id, err := cl.core.checkedHost(key)
	if err != nil {
		return nil, 0, err
	}
	client, err := cl.Host(ctx, id)
	return client, id, err
}

func (cl *Cluster) checkHosts(hosts []int) error {
	n := len(cl.core.hosts)
	for _, h := range hosts {
		if h < 0 || h >= n {
			return fmt.Errorf("%w: %d (hosts are 0..%d)", ErrNoHost, h, n-1)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(hosts)))) != len(hosts) {
		return fmt.Errorf("%w: a host is listed twice in %v", ErrBadHosts, hosts)
	}
	return nil
}
