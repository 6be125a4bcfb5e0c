package conn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// StoredJSON returns the config as the JSON ParseConfig reads, passwords and user names included: the
// form to store at config:redis:<component> (SetConfig stores a Config this way). It is the one
// unmasked way out of a Config, for writing a config back after changing it; String, fmt, slog and
// MarshalJSON stay masked. Treat what it returns as a secret.
//
// For a Config from ParseConfig, ParseConfig(StoredJSON()) returns an equal Config. A Config built or
// changed by hand is held to ParseConfig's rules: a value ParseConfig would refuse is a *ConfigError
// naming the JSON field, and a setting its kind has no JSON for (Addrs on a single server, Network on
// a cluster) or text that is not valid UTF-8 is a *ConfigError wrapping ErrBadConfig that names the
// Config field. A zero value means the default, as in ParseConfig (Network "" is go-redis's guess from
// Addr, Addr "" is localhost:6379), and MaxRetries -1 is stored as 0, which means the same.
func (c *Config) StoredJSON() ([]byte, error) {
	if c == nil {
		return nil, &ConfigError{Err: fmt.Errorf("%w: no config (a nil *Config)", ErrBadConfig)}
	}
	m, err := c.storedFields()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // stored, not embedded in HTML: keep '<' and '&' readable
	// Encode cannot fail: strings, numbers and booleans only.
	if err := enc.Encode(m); err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("%w: %v", ErrBadConfig, err)}
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	got, err := ParseConfig(b)
	if err != nil {
		return nil, err
	}
	want := c.normalized()
	if got.canonical() != want.canonical() {
		return nil, &ConfigError{Err: fmt.Errorf("%w: Config.%s cannot be stored: a %v config has no JSON for it, "+
			"or it is not valid UTF-8", ErrBadConfig, firstDiff(want, got), c.Kind)}
	}
	return b, nil
}

// check holds a Config about to make a client to ParseConfig's rules, as StoredJSON does.
func (c *Config) check() error {
	_, err := c.StoredJSON()
	return err
}

// normalized is c with the zero values ParseConfig never returns replaced by what they mean.
func (c *Config) normalized() *Config {
	n := *c
	if len(n.Addrs) == 0 {
		n.Addrs = nil
	}
	if n.Kind == KindSingle {
		if n.Network == "" {
			n.Network = "tcp"
			if strings.HasPrefix(n.Addr, "/") { // as go-redis guesses
				n.Network = "unix"
			}
		}
		if n.Network == "tcp" && n.Addr == "" {
			n.Addr = "localhost:6379"
		}
	}
	if n.MaxRetries == -1 {
		n.MaxRetries = 0
	}
	if n.TLS != nil {
		t := *n.TLS
		t.NoHostnameCheck = t.NoHostnameCheck && !t.SkipVerify
		n.TLS = &t
	}
	return &n
}

// storedFields is the JSON object StoredJSON writes.
func (c *Config) storedFields() (map[string]any, error) {
	m := map[string]any{}
	str := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	num := func(k string, n int) {
		if n != 0 {
			m[k] = n
		}
	}
	dur := func(k string, d time.Duration) {
		if d != 0 {
			m[k] = d.String() // exact to the nanosecond; a negative one is refused by name
		}
	}
	flag := func(k string, b bool) {
		if b {
			m[k] = true
		}
	}
	addrs := func() []string {
		if c.Addrs == nil {
			return []string{} // refused by name, not read as "no cluster"
		}
		return c.Addrs
	}
	n := c.normalized()
	switch c.Kind {
	case KindSingle:
		if !utf8.ValidString(n.Addr) || !utf8.ValidString(n.Username) || !utf8.ValidString(n.Password) {
			// Only a URL's escapes hold such bytes (a URL's user info may be any bytes).
			c.storedURL(m, n)
			break
		}
		if n.Network != "tcp" {
			m["network"] = n.Network
			m["addr"] = n.Addr
		} else if n.Addr != "localhost:6379" {
			m["addr"] = n.Addr
		}
		num("db", c.DB)
		str("username", c.Username)
		str("password", c.Password)
		c.storedTLS(m, true)
	case KindCluster:
		m["cluster"] = addrs()
		num("db", c.DB)
		str("username", c.Username)
		str("password", c.Password)
		c.storedTLS(m, true)
	case KindSentinel:
		s := map[string]any{"master": c.Master, "addrs": addrs()}
		if c.SentinelUsername != "" {
			s["username"] = c.SentinelUsername
		}
		if c.SentinelPassword != "" {
			s["password"] = c.SentinelPassword
		}
		m["sentinel"] = s
		num("db", c.DB)
		str("username", c.Username)
		str("password", c.Password)
		c.storedTLS(m, true)
	default:
		return nil, &ConfigError{Err: fmt.Errorf("%w: Config.Kind is not a kind conn knows (%v)", ErrBadConfig, c.Kind)}
	}
	str("client_name", c.ClientName)
	dur("dial_timeout", c.DialTimeout)
	dur("read_timeout", c.ReadTimeout)
	dur("write_timeout", c.WriteTimeout)
	num("pool_size", c.PoolSize)
	num("min_idle_conns", c.MinIdleConns)
	num("max_retries", n.MaxRetries)
	num("protocol", c.Protocol)
	num("dial_retries", c.DialRetries)
	dur("min_retry_backoff", c.MinRetryBackoff)
	dur("max_retry_backoff", c.MaxRetryBackoff)
	flag("pool_fifo", c.PoolFIFO)
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
	flag("read_only", c.ReadOnly)
	flag("route_by_latency", c.RouteByLatency)
	flag("route_randomly", c.RouteRandomly)
	return m, nil
}

// storedTLS writes the TLS fields; withSSL adds "ssl": true (a rediss:// URL says it instead).
func (c *Config) storedTLS(m map[string]any, withSSL bool) {
	t := c.TLS
	if t == nil {
		return
	}
	if withSSL {
		m["ssl"] = true
	}
	for k, v := range map[string]string{"ssl_ca_certs": t.CAFile, "ssl_ca_path": t.CAPath, "ssl_certfile": t.CertFile,
		"ssl_keyfile": t.KeyFile, "ssl_server_name": t.ServerName} {
		if v != "" {
			m[k] = v
		}
	}
	if t.MinVersion != 0 {
		m["ssl_min_version"] = int(t.MinVersion)
	}
	switch {
	case t.SkipVerify:
		m["ssl_cert_reqs"] = "none"
	case t.NoHostnameCheck:
		m["ssl_check_hostname"] = false
	}
}

// storedURL writes a single server as a "url", whose escapes carry bytes a JSON string cannot.
func (c *Config) storedURL(m map[string]any, n *Config) {
	u := &url.URL{Scheme: "redis", Host: n.Addr}
	if n.Username != "" || n.Password != "" {
		u.User = url.User(n.Username)
		if n.Password != "" {
			u.User = url.UserPassword(n.Username, n.Password)
		}
	}
	if n.Network == "unix" {
		u.Scheme, u.Host, u.Path = "unix", "", n.Addr
		if n.DB != 0 {
			u.RawQuery = "db=" + strconv.Itoa(n.DB)
		}
	} else {
		if n.DB != 0 {
			u.Path = "/" + strconv.Itoa(n.DB)
		}
		if n.TLS != nil {
			u.Scheme = "rediss"
		}
	}
	m["url"] = u.String()
	if u.Scheme == "rediss" {
		c.storedTLS(m, false)
	}
}

// firstDiff names the first field in which a and b differ.
func firstDiff(a, b *Config) string {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			name := va.Type().Field(i).Name
			if name == "TLS" && a.TLS != nil && b.TLS != nil {
				ta, tb := reflect.ValueOf(a.TLS).Elem(), reflect.ValueOf(b.TLS).Elem()
				for j := range ta.NumField() {
					if ta.Field(j).Interface() != tb.Field(j).Interface() {
						return "TLS." + ta.Type().Field(j).Name
					}
				}
			}
			return name
		}
	}
	return "Kind" // unreachable: canonical encodes exactly these fields
}
