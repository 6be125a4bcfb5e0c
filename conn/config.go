package conn

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"
)

// Config is a component's connection settings, parsed from the JSON stored at config:redis:<component>.
// Build one with ParseConfig; StoredJSON gives the JSON back. It is normalized (host and port become
// Addr, a URL is expanded), so two JSON texts that mean the same server compare equal, and it never
// prints its passwords or user names.
//
// Each number means what the go-redis option of the same name means, with two exceptions that keep
// every call bounded and every write sent once: a duration is never 0-or-negative "off" (a parsed
// Config holds 0, go-redis's default, or a value from 1 ns to a day), and MaxRetries 0 means none.
type Config struct {
	Kind Kind // which client the config makes

	Network string   // "tcp" or "unix" (KindSingle)
	Addr    string   // host:port or socket path (KindSingle); redis-py's default: localhost:6379
	Addrs   []string // cluster seeds (KindCluster), or sentinel addresses (KindSentinel)
	Master  string   // sentinel master name (KindSentinel): ASCII letters, digits, '.', '-' and '_'
	DB      int      // 0 or more; 0: database 0 (a cluster has only that one)

	Username         string
	Password         string
	SentinelUsername string
	SentinelPassword string
	ClientName       string // printable ASCII without spaces, as Redis's CLIENT SETNAME requires

	TLS *TLSConfig // nil: plain TCP

	DialTimeout  time.Duration // 0: go-redis's default (5 s)
	ReadTimeout  time.Duration // 0: go-redis's default (5 s); never negative (go-redis's -1 turns it off)
	WriteTimeout time.Duration // 0: ReadTimeout; never negative
	PoolSize     int           // 0: a Registry fills in its Options.PoolSize (128); Config.NewClient, go-redis's default (10 per GOMAXPROCS); otherwise at least 1
	MinIdleConns int           // 0: go-redis's default (none kept idle)

	// MaxRetries is how many times a command is resent after a network error. 0 means none, conn's
	// default and go-redis's -1 (ParseConfig reads -1 as 0): go-redis's own 0 means 3, and a resent
	// INCR whose reply was lost is applied twice.
	MaxRetries int
	Protocol   int // 2 or 3; 0: go-redis's default (3)

	// DialRetries is how many more times a new connection is dialed after a dial fails (go-redis's
	// DialerRetries, "retry attempts when dialing fails"). 0: dial once (conn's default, so a server
	// that is down fails fast); n > 0: up to n+1 dials; -1: go-redis's default (5 dials).
	DialRetries int

	MinRetryBackoff         time.Duration // 0: go-redis's default (10 ms); never negative (go-redis's -1: no backoff)
	MaxRetryBackoff         time.Duration // 0: go-redis's default (1 s); never negative
	PoolFIFO                bool          // false: go-redis's default (LIFO)
	PoolTimeout             time.Duration // 0: go-redis's default (ReadTimeout + 1 s)
	MaxIdleConns            int           // 0: go-redis's default (no limit)
	MaxActiveConns          int           // 0: go-redis's default (no limit)
	MaxConcurrentDials      int           // 0: go-redis's default (PoolSize)
	ConnMaxIdleTime         time.Duration // 0: go-redis's default (30 min); never negative (go-redis's -1: no idle check)
	ConnMaxLifetime         time.Duration // 0: go-redis's default (no limit)
	ConnMaxLifetimeJitter   time.Duration // 0: go-redis's default (none); at most ConnMaxLifetime
	PipelinePoolSize        int           // 0: go-redis's default (10); -1: no separate pipeline pool, as in go-redis
	PipelineReadBufferSize  int           // bytes, up to 64 MiB; 0: go-redis's default (the larger of 128 KiB and the read buffer)
	PipelineWriteBufferSize int           // bytes, up to 64 MiB; 0: go-redis's default (likewise)

	ReadOnly       bool // KindCluster: read from replicas
	RouteByLatency bool // KindCluster: read from the closest node
	RouteRandomly  bool // KindCluster: read from a random node
}

// Kind says which go-redis client a Config makes.
type Kind int

const (
	KindSingle   Kind = iota // *redis.Client, from Options
	KindCluster              // *redis.ClusterClient, from ClusterOptions
	KindSentinel             // *redis.Client from redis.NewFailoverClient, from FailoverOptions
)

func (k Kind) String() string {
	switch k {
	case KindSingle:
		return "single"
	case KindCluster:
		return "cluster"
	case KindSentinel:
		return "sentinel"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// TLSConfig holds the TLS settings; certificate files are read when the client is made.
type TLSConfig struct {
	CAFile          string `json:"ca_file,omitempty"`           // ssl_ca_certs: PEM roots; empty (with CAPath) means the system roots
	CAPath          string `json:"ca_path,omitempty"`           // ssl_ca_path: a directory of PEM roots, added to CAFile's
	MinVersion      uint16 `json:"min_version,omitempty"`       // ssl_min_version: tls.VersionTLS12 or 13; 0 means TLS 1.2
	CertFile        string `json:"cert_file,omitempty"`         // ssl_certfile: client certificate
	KeyFile         string `json:"key_file,omitempty"`          // ssl_keyfile
	ServerName      string `json:"server_name,omitempty"`       // ssl_server_name: name to verify; empty means the host dialed
	SkipVerify      bool   `json:"skip_verify,omitempty"`       // ssl_cert_reqs "none": no verification at all (insecure)
	NoHostnameCheck bool   `json:"no_hostname_check,omitempty"` // ssl_check_hostname false: verify the chain, not the name (insecure)
}

// clone is a copy of c sharing nothing with it.
func (c *Config) clone() *Config {
	n := *c
	n.Addrs = slices.Clone(c.Addrs)
	if c.TLS != nil {
		t := *c.TLS
		n.TLS = &t
	}
	return &n
}

// Insecure reports whether the config turns off any TLS verification. NewClient refuses such a config;
// NewClientAllowInsecure makes it.
func (c *Config) Insecure() bool {
	return c.TLS != nil && (c.TLS.SkipVerify || c.TLS.NoHostnameCheck)
}

// String describes the config with its passwords and user names masked (a URL's user part often
// holds a token). String, Format, LogValue and MarshalJSON have value receivers, so a Config printed,
// logged or encoded by value masks them too.
func (c Config) String() string {
	m := map[string]any{"kind": c.Kind.String()}
	set := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	dur := func(k string, d time.Duration) { set(k, d.String(), d != 0) }
	num := func(k string, n int) { set(k, n, n != 0) }
	set("network", c.Network, c.Network != "")
	addr := maskUserinfo(c.Addr)
	if c.Network != "unix" {
		addr = maskZone(addr)
	}
	set("addr", addr, c.Addr != "")
	addrs := make([]string, len(c.Addrs))
	for i, a := range c.Addrs {
		addrs[i] = maskZone(maskUserinfo(a))
	}
	set("addrs", addrs, len(c.Addrs) > 0)
	master := c.Master
	if checkName(master) != nil { // built by hand: ParseConfig refuses it
		master = Masked
	}
	set("master", master, c.Master != "")
	num("db", c.DB)
	set("username", "*****", c.Username != "")
	set("password", "*****", c.Password != "")
	set("sentinel_username", "*****", c.SentinelUsername != "")
	set("sentinel_password", "*****", c.SentinelPassword != "")
	set("client_name", c.ClientName, c.ClientName != "")
	set("tls", c.TLS, c.TLS != nil)
	dur("dial_timeout", c.DialTimeout)
	dur("read_timeout", c.ReadTimeout)
	dur("write_timeout", c.WriteTimeout)
	num("pool_size", c.PoolSize)
	num("min_idle_conns", c.MinIdleConns)
	num("max_retries", c.MaxRetries)
	num("protocol", c.Protocol)
	num("dial_retries", c.DialRetries)
	dur("min_retry_backoff", c.MinRetryBackoff)
	dur("max_retry_backoff", c.MaxRetryBackoff)
	set("pool_fifo", true, c.PoolFIFO)
	dur("pool_timeout", c.PoolTimeout)
	num("max_idle_conns", c.MaxIdleConns)
	num("max_active_conns", c.MaxActiveConns)
	num("max_concurrent_dials", c.MaxConcurrentDials)
	dur("conn_max_idle_time", c.ConnMaxIdleTime)
	dur("conn_max_lifetime", c.ConnMaxLifetime)
	dur("conn_max_lifetime_jitter", c.ConnMaxLifetimeJitter)
	num("pipeline_pool_size", c.PipelinePoolSize)
	num("pipeline_read_buffer_size", c.PipelineReadBufferSize)
	num("pipeline_write_buffer_size", c.PipelineWriteBufferSize)
	set("read_only", true, c.ReadOnly)
	set("route_by_latency", true, c.RouteByLatency)
	set("route_randomly", true, c.RouteRandomly)
	b, _ := json.Marshal(m)
	return string(b)
}

// Format makes every fmt verb (%v, %+v, %#v, %s) print String, so a password cannot leak through logging.
func (c Config) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// LogValue makes slog print String too.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes String's form, passwords masked, which ParseConfig does not read: StoredJSON
// is the form to store.
func (c Config) MarshalJSON() ([]byte, error) { return []byte(c.String()), nil }

// plainConfig is Config without its methods, so canonical can encode every field.
type plainConfig Config

// canonical is the comparison key: two configs with the same canonical form make the same client.
func (c *Config) canonical() string {
	b, _ := json.Marshal((*plainConfig)(c)) // every exported field, passwords included; never shown
	return string(b)
}
