package hostset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/shard"
)

// Hosts is rb's Cluster on go-redis: a set of independent Redis hosts with integer ids, a router
// that maps each key to one host, a routing client for single-key commands, and Map / Fanout / All,
// which send many commands to many hosts in parallel, one pipeline per host. It is not replicated: a
// host that is down fails the commands for its keys, which are never sent anywhere else.
//
// A Hosts is safe for concurrent use. Views made by AutoBatch share its hosts.
type Hosts struct {
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

// New connects to the hosts in opt.Hosts. It makes the hosts' clients (go-redis dials lazily, so a
// host that is down is not an error here) and the router.
func New(opt *Options) (*Hosts, error) {
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

// FromRegistry makes a set of n hosts whose clients come from reg: host i is component
// "<name>:<i>", configured at config:redis:<name>:<i> (the layout of the book's sharded connections).
// Each operation acquires the hosts' clients from the registry and releases them, so config changes
// apply as the registry sees them. opt.Hosts, HostDefaults and NewClient are not used; Close does
// not close reg.
func FromRegistry(reg *conn.Registry, name string, n int, opt *Options) (*Hosts, error) {
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
		comp := shard.ShardComponent(name, id)
		c.hosts[id] = host{id: id, name: comp, component: comp}
	}
	return c.finish()
}

func (c *core) finish() (*Hosts, error) {
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
	return &Hosts{core: c, autoBatch: !c.opt.NoAutoBatch}, nil
}

// checkRouter rejects a router built for other hosts than 0..n-1 (rb's assert_gapless_hosts): a
// ring with a node id of n or more would send keys to a host that does not exist, and one that leaves an id out, or gives a host no point, would never use that host. A
// custom Router cannot be checked so: its answers are checked key by key (hostFor).
func checkRouter(r Router, n int) error {
	switch r := r.(type) {
	case nil:
		return fmt.Errorf("%w: router is nil", ErrBadHosts)
	case *Partition:
		if r.n != n {
			return fmt.Errorf("%w: partition router over %d hosts for a set of %d", ErrBadHosts, r.n, n)
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

func (c *core) closeClients() {
	for _, h := range c.hosts {
		if h.client != nil {
			h.client.Close()
		}
	}
}

// Close closes the clients New made and the routing clients. It does not close a registry.
func (hs *Hosts) Close() error {
	c := hs.core
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

// AutoBatch returns a view with auto-batching on or off; it shares the hosts.
func (hs *Hosts) AutoBatch(on bool) *Hosts { return &Hosts{core: hs.core, autoBatch: on} }

// IDs returns the host ids, 0..n-1.
func (hs *Hosts) IDs() []int {
	ids := make([]int, len(hs.core.hosts))
	for i := range ids {
		ids[i] = i
	}
	return ids
}

// Router returns the router.
func (hs *Hosts) Router() Router { return hs.core.router }

// HostForKey returns the id of the host that holds key: the router's answer, -1 for a key the
// router refuses (ClientForKey says why). key is the bytes the server sees: for a key argument that
// is not a string, the bytes go-redis writes for it (a uuid.UUID's 16 raw bytes, float64(1e21) as
// "1000000000000000000000"), which is what the routing client hashes.
func (hs *Hosts) HostForKey(key string) int {
	id, err := hs.core.route(key)
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
// Pipelined are Map's: one pipeline per host, hosts in parallel. Do not close it; Close the Hosts.
func (hs *Hosts) Routing() *redis.Client {
	if hs.autoBatch {
		return hs.core.routing[1]
	}
	return hs.core.routing[0]
}

// Acquire returns host id's client, held until release is called (a registry may replace it after).
// Once ctx has ended it fails with an error wrapping ctx.Err().
func (hs *Hosts) Acquire(ctx context.Context, id int) (_ redis.UniversalClient, _ func(), err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	c := hs.core
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
		return nil, nil, &HostError{Host: id, Addr: h.name, Err: noretry.CtxErr(ctx, err)}
	}
	return client, release, nil
}

// Host returns host id's client (rb's get_local_client): commands on it run immediately on that host.
// With a registry, the client may be replaced after a config change; prefer Acquire for long use.
func (hs *Hosts) Host(ctx context.Context, id int) (redis.UniversalClient, error) {
	client, release, err := hs.Acquire(ctx, id)
	if err != nil {
		return nil, err
	}
	release()
	return client, nil
}

// ClientForKey returns the client of the host that holds key, and that host's id
// (rb's get_local_client_for_key): the one for WATCH/MULTI, scripts and anything else the routing
// client refuses. A key the router refuses fails (a shard.Python3 Partition: shard.ErrNotLatin1), as does a
// custom router's id outside the hosts (ErrNoHost).
func (hs *Hosts) ClientForKey(ctx context.Context, key string) (_ redis.UniversalClient, _ int, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	id, err := hs.core.checkedHost(key)
	if err != nil {
		return nil, 0, err
	}
	client, err := hs.Host(ctx, id)
	return client, id, err
}

func (hs *Hosts) checkHosts(hosts []int) error {
	n := len(hs.core.hosts)
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
