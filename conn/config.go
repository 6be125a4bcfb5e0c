package conn

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Config is a component's connection settings, parsed from the JSON stored at config:redis:<component>.
// Build one with ParseConfig. It is normalized (host and port become Addr, a URL is expanded), so two
// JSON texts that mean the same server compare equal, and it never prints its passwords.
type Config struct {
	Kind Kind // which client the config makes

	Network string   // "tcp" or "unix" (single server)
	Addr    string   // host:port or socket path (single server)
	Addrs   []string // cluster seeds, or sentinel addresses
	Master  string   // sentinel master name
	DB      int

	Username         string
	Password         string
	SentinelUsername string
	SentinelPassword string
	ClientName       string

	TLS *TLSConfig // nil: plain TCP

	DialTimeout  time.Duration // 0: go-redis default (5 s)
	ReadTimeout  time.Duration // 0: go-redis default (3 s)
	WriteTimeout time.Duration // 0: same as ReadTimeout
	PoolSize     int           // 0: go-redis default (10 per CPU)
	MinIdleConns int
	MaxRetries   int // retries after a network error; 0 (the default) means none, see MaxRetries in the package doc
	Protocol     int // 2 or 3; 0: go-redis default (3)

	ReadOnly       bool // cluster: read from replicas
	RouteByLatency bool // cluster: read from the closest node
	RouteRandomly  bool // cluster: read from a random node
}

// Kind says which go-redis client a Config makes.
type Kind int

const (
	Single   Kind = iota // *redis.Client
	Cluster              // *redis.ClusterClient
	Sentinel             // *redis.Client from redis.NewFailoverClient
)

func (k Kind) String() string {
	switch k {
	case Single:
		return "single"
	case Cluster:
		return "cluster"
	case Sentinel:
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
	ServerName      string `json:"server_name,omitempty"`       // name to verify; empty means the host being dialed
	SkipVerify      bool   `json:"skip_verify,omitempty"`       // ssl_cert_reqs "none": no verification at all (insecure)
	NoHostnameCheck bool   `json:"no_hostname_check,omitempty"` // ssl_check_hostname false: verify the chain, not the name (insecure)
}

// Insecure reports whether the config turns off any TLS verification. NewClient refuses such a config;
// NewClientAllowInsecure makes it.
func (c *Config) Insecure() bool {
	return c.TLS != nil && (c.TLS.SkipVerify || c.TLS.NoHostnameCheck)
}

// String describes the config with its passwords masked. String, Format, LogValue and MarshalJSON
// have value receivers, so a Config printed, logged or encoded by value masks them too.
func (c Config) String() string {
	m := map[string]any{"kind": c.Kind.String()}
	set := func(k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	set("network", c.Network, c.Network != "")
	set("addr", c.Addr, c.Addr != "")
	set("addrs", c.Addrs, len(c.Addrs) > 0)
	set("master", c.Master, c.Master != "")
	set("db", c.DB, c.DB != 0)
	set("username", c.Username, c.Username != "")
	set("password", "*****", c.Password != "")
	set("sentinel_username", c.SentinelUsername, c.SentinelUsername != "")
	set("sentinel_password", "*****", c.SentinelPassword != "")
	set("client_name", c.ClientName, c.ClientName != "")
	set("tls", c.TLS, c.TLS != nil)
	set("dial_timeout", c.DialTimeout.String(), c.DialTimeout != 0)
	set("read_timeout", c.ReadTimeout.String(), c.ReadTimeout != 0)
	set("write_timeout", c.WriteTimeout.String(), c.WriteTimeout != 0)
	set("pool_size", c.PoolSize, c.PoolSize != 0)
	set("min_idle_conns", c.MinIdleConns, c.MinIdleConns != 0)
	set("max_retries", c.MaxRetries, c.MaxRetries != 0)
	set("protocol", c.Protocol, c.Protocol != 0)
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

// MarshalJSON encodes String's form, passwords masked: a Config does not round-trip through JSON
// (store the config's own JSON for that).
func (c Config) MarshalJSON() ([]byte, error) { return []byte(c.String()), nil }

// plainConfig is Config without its methods, so canonical can encode every field.
type plainConfig Config

// canonical is the comparison key: two configs with the same canonical form make the same client.
func (c *Config) canonical() string {
	b, _ := json.Marshal((*plainConfig)(c)) // every exported field, passwords included; never shown
	return string(b)
}
