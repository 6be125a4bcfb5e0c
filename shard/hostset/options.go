package hostset

import (
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/option"
)

// Options configure a Hosts.
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
	// (*Hosts).AutoBatch switches it for one view.
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
	if err := option.Fill(option.Of{Type: "hostset.Options"}, "MaxConcurrency", &o.MaxConcurrency, 64, true); err != nil {
		return err
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
