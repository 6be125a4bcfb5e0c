package conn

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// field describes one accepted JSON key.
type field struct {
	name  string
	apply func(c *Config, p *parseState, raw json.RawMessage) error
}

// parseState holds what is seen while parsing and resolved at the end.
type parseState struct {
	seen                map[string]bool
	host                string
	port                int
	socketTimeout       time.Duration
	certReqs            string
	checkHostname       *bool
	ssl                 bool
	caFile, cert, key   string
	caPath              string
	minVersion          uint16
	clusterAddrs        []string
	sentinel            *sentinelJSON
	url                 string
	readTimeoutExplicit bool
}

type sentinelJSON struct {
	Master   string   `json:"master"`
	Addrs    []string `json:"addrs"`
	Username string   `json:"username"`
	Password string   `json:"password"`
}

// Accepted redis-py keys that mean nothing to a Go client are type-checked, then ignored, so that a
// config written for the book's Python code parses and a typo in one still fails.
func ignoreBool(_ *Config, _ *parseState, raw json.RawMessage) error {
	var b bool
	return decodeBool(raw, &b)
}

func ignoreString(_ *Config, _ *parseState, raw json.RawMessage) error {
	var s string
	return decodeString(raw, &s, true)
}

func ignoreSecret(_ *Config, _ *parseState, raw json.RawMessage) error {
	var s string
	return decodeSecret(raw, &s)
}

func ignoreSeconds(_ *Config, _ *parseState, raw json.RawMessage) error {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("must be seconds as a number: %s", jsonMsg(err))
	}
	if f < 0 || f > 24*3600 {
		return fmt.Errorf("%v seconds is out of range (0 to a day)", f)
	}
	return nil
}

var fields = []field{
	// redis-py keyword form
	{"host", func(c *Config, p *parseState, raw json.RawMessage) error {
		if err := decodeString(raw, &p.host, true); err != nil {
			return err
		}
		return checkHost(p.host)
	}},
	{"port", func(c *Config, p *parseState, raw json.RawMessage) error {
		if err := decodeInt(raw, &p.port); err != nil {
			return err
		}
		if p.port < 1 || p.port > 65535 {
			return fmt.Errorf("%d is not a port (1 to 65535)", p.port)
		}
		return nil
	}},
	{"db", func(c *Config, p *parseState, raw json.RawMessage) error {
		if err := decodeInt(raw, &c.DB); err != nil {
			return err
		}
		if c.DB < 0 {
			return fmt.Errorf("%d is negative", c.DB)
		}
		return nil
	}},
	{"username", func(c *Config, p *parseState, raw json.RawMessage) error {
		return decodeString(raw, &c.Username, false)
	}},
	{"password", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeSecret(raw, &c.Password) }},
	{"unix_socket_path", func(c *Config, p *parseState, raw json.RawMessage) error {
		if err := decodeString(raw, &c.Addr, true); err != nil {
			return err
		}
		c.Network = "unix"
		return nil
	}},
	{"ssl", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeBool(raw, &p.ssl) }},
	{"ssl_ca_certs", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeString(raw, &p.caFile, true) }},
	{"ssl_certfile", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeString(raw, &p.cert, true) }},
	{"ssl_keyfile", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeString(raw, &p.key, true) }},
	{"ssl_cert_reqs", func(c *Config, p *parseState, raw json.RawMessage) error {
		if err := decodeString(raw, &p.certReqs, true); err != nil {
			return err
		}
		switch strings.TrimPrefix(strings.ToLower(p.certReqs), "cert_") {
		case "required", "optional": // a client verifies in both (Python's ssl module treats them alike)
			p.certReqs = "required"
		case "none":
			p.certReqs = "none"
		default:
			return fmt.Errorf("%q is not one of required, optional, none", p.certReqs)
		}
		return nil
	}},
	{"ssl_check_hostname", func(c *Config, p *parseState, raw json.RawMessage) error {
		var b bool
		if err := decodeBool(raw, &b); err != nil {
			return err
		}
		p.checkHostname = &b
		return nil
	}},
	{"socket_timeout", func(c *Config, p *parseState, raw json.RawMessage) error {
		return decodeDuration(raw, &p.socketTimeout)
	}},
	{"socket_connect_timeout", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeDuration(raw, &c.DialTimeout) }},
	{"client_name", func(c *Config, p *parseState, raw json.RawMessage) error {
		return decodeString(raw, &c.ClientName, false)
	}},
	{"max_connections", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeCount(raw, &c.PoolSize) }},
	{"ssl_ca_path", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeString(raw, &p.caPath, true) }},
	{"ssl_min_version", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeTLSVersion(raw, &p.minVersion) }},

	// redis-py keys with no Go meaning: type-checked and ignored.
	{"decode_responses", ignoreBool},         // go-redis always returns typed replies
	{"encoding", ignoreString},               // Go strings are bytes; no decoding
	{"encoding_errors", ignoreString},        // likewise
	{"health_check_interval", ignoreSeconds}, // go-redis checks idle connections itself
	{"socket_keepalive", ignoreBool},         // Go's dialer keeps TCP alive by default
	{"retry_on_timeout", ignoreBool},         // conn makes no retries unless max_retries asks (see the package doc)
	{"single_connection_client", ignoreBool}, // a go-redis client is a pool, safe for concurrent use
	{"lib_name", ignoreString},               // go-redis sends its own CLIENT SETINFO
	{"lib_version", ignoreString},            // likewise
	{"ssl_password", ignoreSecret},           // crypto/tls reads only unencrypted keys: an encrypted ssl_keyfile fails in NewClient

	// Go forms
	{"addr", func(c *Config, p *parseState, raw json.RawMessage) error {
		return decodeString(raw, &c.Addr, true) // checked in resolve, once "network" is known
	}},
	{"network", func(c *Config, p *parseState, raw json.RawMessage) error {
		if err := decodeString(raw, &c.Network, true); err != nil {
			return err
		}
		if c.Network != "tcp" && c.Network != "unix" {
			return fmt.Errorf("%q is not tcp or unix", c.Network)
		}
		return nil
	}},
	{"url", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeSecret(raw, &p.url) }},
	{"cluster", func(c *Config, p *parseState, raw json.RawMessage) error {
		if err := decodeAddrs(raw, &p.clusterAddrs); err != nil {
			return err
		}
		return nil
	}},
	{"sentinel", func(c *Config, p *parseState, raw json.RawMessage) error {
		var s sentinelJSON
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&s); err != nil {
			return fmt.Errorf("must be an object {\"master\", \"addrs\", \"username\", \"password\"}: %v", jsonMsg(err))
		}
		if s.Master == "" {
			return errors.New(`"master" is missing or empty`)
		}
		if len(s.Addrs) == 0 {
			return errors.New(`"addrs" is missing or empty`)
		}
		for _, a := range s.Addrs {
			if err := checkHostPort(a); err != nil {
				return fmt.Errorf(`"addrs": %v`, err)
			}
		}
		p.sentinel = &s
		return nil
	}},
	{"read_timeout", func(c *Config, p *parseState, raw json.RawMessage) error {
		p.readTimeoutExplicit = true
		return decodeDuration(raw, &c.ReadTimeout)
	}},
	{"write_timeout", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeDuration(raw, &c.WriteTimeout) }},
	{"dial_timeout", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeDuration(raw, &c.DialTimeout) }},
	{"pool_size", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeCount(raw, &c.PoolSize) }},
	{"min_idle_conns", func(c *Config, p *parseState, raw json.RawMessage) error {
		if err := decodeInt(raw, &c.MinIdleConns); err != nil {
			return err
		}
		if c.MinIdleConns < 0 {
			return fmt.Errorf("%d is negative", c.MinIdleConns)
		}
		return nil
	}},
	{"max_retries", func(c *Config, p *parseState, raw json.RawMessage) error {
		if err := decodeInt(raw, &c.MaxRetries); err != nil {
			return err
		}
		if c.MaxRetries < 0 {
			return fmt.Errorf("%d is negative (0 means no retries)", c.MaxRetries)
		}
		return nil
	}},
	{"protocol", func(c *Config, p *parseState, raw json.RawMessage) error {
		if err := decodeInt(raw, &c.Protocol); err != nil {
			return err
		}
		if c.Protocol != 2 && c.Protocol != 3 {
			return fmt.Errorf("%d is not 2 or 3", c.Protocol)
		}
		return nil
	}},
	{"read_only", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeBool(raw, &c.ReadOnly) }},
	{"route_by_latency", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeBool(raw, &c.RouteByLatency) }},
	{"route_randomly", func(c *Config, p *parseState, raw json.RawMessage) error { return decodeBool(raw, &c.RouteRandomly) }},
}

// ParseConfig parses and validates a component's JSON config. Errors are *ConfigError values that name
// the field; they never contain a password.
func ParseConfig(data []byte) (*Config, error) {
	c, err := parseConfig(data)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func parseConfig(data []byte) (*Config, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("%w: not a JSON object: %v", ErrBadConfig, jsonMsg(err))}
	}
	if obj == nil {
		return nil, &ConfigError{Err: fmt.Errorf("%w: not a JSON object (null)", ErrBadConfig)}
	}
	c := &Config{}
	p := &parseState{seen: map[string]bool{}}
	secrets := secretsOf(obj) // known before any field is checked, so every error is masked
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	slices.Sort(names) // report the same first error every time
	for _, name := range names {
		raw := obj[name]
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
		if i < 0 {
			return nil, fieldErr(name, fmt.Errorf("%w: unknown field", ErrBadConfig))
		}
		if string(raw) == "null" { // Python's None: the same as leaving the key out
			continue
		}
		p.seen[name] = true
		if err := fields[i].apply(c, p, raw); err != nil {
			return nil, fieldErr(name, redactErr(fmt.Errorf("%w: %v", ErrBadConfig, err), secrets))
		}
	}
	if err := p.resolve(c); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.Err = redactErr(ce.Err, secrets)
		}
		return nil, err
	}
	return c, nil
}

// secretsOf collects every password the document holds, whatever its shape, for masking in errors.
func secretsOf(obj map[string]json.RawMessage) []string {
	var out []string
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	out = append(out, str(obj["password"]), str(obj["ssl_password"]))
	if raw, ok := obj["url"]; ok {
		out = append(out, urlSecrets(str(raw))...)
	}
	var sent map[string]json.RawMessage
	if json.Unmarshal(obj["sentinel"], &sent) == nil {
		out = append(out, str(sent["password"]))
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

// resolve checks combinations and fills the normalized fields.
func (p *parseState) resolve(c *Config) error {
	has := func(names ...string) []string {
		var out []string
		for _, n := range names {
			if p.seen[n] {
				out = append(out, n)
			}
		}
		return out
	}
	conflict := func(a string, others ...string) error {
		if h := has(others...); p.seen[a] && len(h) > 0 {
			return fieldErr(a, fmt.Errorf("%w: cannot be combined with %q", ErrBadConfig, h[0]))
		}
		return nil
	}
	// Exactly one way of naming the server.
	for _, pair := range [][2]string{
		{"url", "host"}, {"url", "port"}, {"url", "addr"}, {"url", "unix_socket_path"}, {"url", "db"},
		{"url", "password"}, {"url", "username"}, {"url", "ssl"}, {"url", "network"},
		{"addr", "host"}, {"addr", "port"}, {"addr", "unix_socket_path"},
		{"unix_socket_path", "host"}, {"unix_socket_path", "port"},
		{"cluster", "sentinel"},
	} {
		if err := conflict(pair[0], pair[1]); err != nil {
			return err
		}
	}
	for _, multi := range []string{"cluster", "sentinel"} {
		if err := conflict(multi, "url", "host", "port", "addr", "unix_socket_path", "network"); err != nil {
			return err
		}
	}
	if p.seen["cluster"] && c.DB != 0 {
		return fieldErr("db", fmt.Errorf("%w: a Redis Cluster has only database 0", ErrBadConfig))
	}
	for _, f := range []string{"read_only", "route_by_latency", "route_randomly"} {
		if p.seen[f] && !p.seen["cluster"] {
			return fieldErr(f, fmt.Errorf("%w: applies only with \"cluster\"", ErrBadConfig))
		}
	}
	if p.seen["socket_timeout"] && (p.seen["read_timeout"] || p.seen["write_timeout"]) {
		return fieldErr("socket_timeout", fmt.Errorf("%w: cannot be combined with read_timeout/write_timeout", ErrBadConfig))
	}
	if p.seen["socket_timeout"] {
		c.ReadTimeout, c.WriteTimeout = p.socketTimeout, p.socketTimeout
	}
	if p.seen["socket_connect_timeout"] && p.seen["dial_timeout"] {
		return fieldErr("dial_timeout", fmt.Errorf("%w: cannot be combined with socket_connect_timeout", ErrBadConfig))
	}
	if p.seen["max_connections"] && p.seen["pool_size"] {
		return fieldErr("pool_size", fmt.Errorf("%w: cannot be combined with max_connections", ErrBadConfig))
	}

	switch {
	case p.seen["cluster"]:
		c.Kind, c.Addrs = Cluster, p.clusterAddrs
	case p.sentinel != nil:
		c.Kind, c.Master, c.Addrs = Sentinel, p.sentinel.Master, p.sentinel.Addrs
		c.SentinelUsername, c.SentinelPassword = p.sentinel.Username, p.sentinel.Password
	case p.seen["url"]:
		if err := p.applyURL(c); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				return ce
			}
			return fieldErr("url", fmt.Errorf("%w: %v", ErrBadConfig, err))
		}
	case p.seen["unix_socket_path"]:
		c.Network = "unix"
	case p.seen["addr"]:
		if c.Network == "" {
			c.Network = "tcp"
		}
		if c.Network == "tcp" {
			if err := checkHostPort(c.Addr); err != nil {
				return fieldErr("addr", fmt.Errorf("%w: %v", ErrBadConfig, err))
			}
		}
	case p.seen["host"] || p.seen["port"]:
		host, port := p.host, p.port
		if host == "" {
			host = "localhost" // redis-py's defaults
		}
		if port == 0 {
			port = 6379
		}
		c.Network, c.Addr = "tcp", net.JoinHostPort(host, strconv.Itoa(port))
	default:
		return &ConfigError{Err: fmt.Errorf("%w: names no server: give host/port, addr, url, unix_socket_path, cluster or sentinel", ErrBadConfig)}
	}
	if p.seen["network"] && !p.seen["addr"] {
		return fieldErr("network", fmt.Errorf("%w: applies only with \"addr\"", ErrBadConfig))
	}

	tlsFields := has("ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile", "ssl_password", "ssl_cert_reqs",
		"ssl_check_hostname", "ssl_min_version")
	if len(tlsFields) > 0 && !p.ssl {
		return fieldErr(tlsFields[0], fmt.Errorf("%w: needs \"ssl\": true", ErrBadConfig))
	}
	if p.ssl {
		if c.TLS == nil {
			c.TLS = &TLSConfig{}
		}
		c.TLS.CAFile, c.TLS.CAPath, c.TLS.CertFile, c.TLS.KeyFile = p.caFile, p.caPath, p.cert, p.key
		c.TLS.MinVersion = p.minVersion
		if (p.cert == "") != (p.key == "") {
			present, missing := "ssl_certfile", "ssl_keyfile"
			if p.cert == "" {
				present, missing = missing, present
			}
			return fieldErr(present, fmt.Errorf("%w: needs %q too (ssl_certfile and ssl_keyfile go together)", ErrBadConfig, missing))
		}
		if p.seen["ssl_password"] && p.cert == "" {
			return fieldErr("ssl_password", fmt.Errorf("%w: applies only with ssl_keyfile", ErrBadConfig))
		}
		c.TLS.SkipVerify = p.certReqs == "none"
		c.TLS.NoHostnameCheck = p.checkHostname != nil && !*p.checkHostname && !c.TLS.SkipVerify
	}
	if c.Kind == Single && c.Network == "unix" && c.TLS != nil && c.TLS.ServerName == "" && !c.TLS.SkipVerify {
		return fieldErr("ssl", fmt.Errorf("%w: TLS over a unix socket has no host name to verify", ErrBadConfig))
	}
	return nil
}

// applyURL expands a redis://, rediss:// or unix:// URL with go-redis's parser.
func (p *parseState) applyURL(c *Config) error {
	o, err := redis.ParseURL(p.url)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, password included
		}
		return err
	}
	// A setting in both the URL's query and its own field is ambiguous: refuse it rather than pick one.
	for _, q := range []struct {
		inURL  bool
		query  string
		fields []string
	}{
		{o.ClientName != "", "client_name", []string{"client_name"}},
		{o.DialTimeout > 0, "dial_timeout", []string{"dial_timeout", "socket_connect_timeout"}},
		{o.ReadTimeout > 0, "read_timeout", []string{"read_timeout", "socket_timeout"}},
		{o.WriteTimeout > 0, "write_timeout", []string{"write_timeout", "socket_timeout"}},
		{o.PoolSize > 0, "pool_size", []string{"pool_size", "max_connections"}},
		{o.MinIdleConns > 0, "min_idle_conns", []string{"min_idle_conns"}},
		{o.MaxRetries > 0, "max_retries", []string{"max_retries"}},
		{o.Protocol != 0, "protocol", []string{"protocol"}},
	} {
		for _, f := range q.fields {
			if q.inURL && p.seen[f] {
				return fieldErr(f, fmt.Errorf("%w: cannot be combined with the url's %s", ErrBadConfig, q.query))
			}
		}
	}
	c.Network, c.Addr, c.DB = o.Network, o.Addr, o.DB
	c.Username, c.Password = o.Username, o.Password
	if o.ClientName != "" {
		c.ClientName = o.ClientName
	}
	if o.Protocol != 0 {
		c.Protocol = o.Protocol
	}
	if o.TLSConfig != nil {
		p.ssl = true
		c.TLS = &TLSConfig{ServerName: o.TLSConfig.ServerName, SkipVerify: o.TLSConfig.InsecureSkipVerify}
		if o.TLSConfig.InsecureSkipVerify {
			p.certReqs = "none"
		}
	}
	durations := []struct {
		dst *time.Duration
		src time.Duration
	}{{&c.DialTimeout, o.DialTimeout}, {&c.ReadTimeout, o.ReadTimeout}, {&c.WriteTimeout, o.WriteTimeout}}
	for _, d := range durations {
		if d.src > 0 {
			*d.dst = d.src
		}
	}
	if o.PoolSize > 0 {
		c.PoolSize = o.PoolSize
	}
	if o.MinIdleConns > 0 {
		c.MinIdleConns = o.MinIdleConns
	}
	if o.MaxRetries > 0 {
		c.MaxRetries = o.MaxRetries
	}
	return nil
}

func urlSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return []string{raw}
	}
	pw, _ := u.User.Password()
	return []string{pw, u.User.Username(), u.User.String()} // decoded and as written (escaped)
}

func fieldErr(name string, err error) *ConfigError { return &ConfigError{Field: name, Err: err} }

func jsonMsg(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "got a JSON " + te.Value
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	}
	return err.Error()
}

func decodeString(raw json.RawMessage, dst *string, nonEmpty bool) error {
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("must be a string: %s", jsonMsg(err))
	}
	if nonEmpty && *dst == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// decodeSecret is decodeString whose errors never show the value.
func decodeSecret(raw json.RawMessage, dst *string) error {
	if err := json.Unmarshal(raw, dst); err != nil {
		return errors.New("must be a string")
	}
	return nil
}

func decodeBool(raw json.RawMessage, dst *bool) error {
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("must be true or false: %s", jsonMsg(err))
	}
	return nil
}

func decodeInt(raw json.RawMessage, dst *int) error {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("must be an integer: %s", jsonMsg(err))
	}
	if f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		return fmt.Errorf("must be an integer, got %v", f)
	}
	*dst = int(f)
	return nil
}

func decodeCount(raw json.RawMessage, dst *int) error {
	if err := decodeInt(raw, dst); err != nil {
		return err
	}
	if *dst < 1 {
		return fmt.Errorf("%d must be at least 1", *dst)
	}
	return nil
}

// decodeDuration accepts seconds as a number (redis-py's form, 0.5 is 500ms) or a Go duration string ("500ms").
func decodeDuration(raw json.RawMessage, dst *time.Duration) error {
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		if f <= 0 || f > 24*3600 || math.IsNaN(f) {
			return fmt.Errorf("%v seconds is out of range (more than 0, at most a day)", f)
		}
		*dst = time.Duration(f * float64(time.Second))
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return errors.New(`must be seconds as a number (0.5) or a duration string ("500ms")`)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf(`%q is not a duration ("500ms", "2s")`, s)
	}
	if d <= 0 || d > 24*time.Hour {
		return fmt.Errorf("%v is out of range (more than 0, at most a day)", d)
	}
	*dst = d
	return nil
}

func decodeAddrs(raw json.RawMessage, dst *[]string) error {
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf(`must be a list of "host:port" strings: %s`, jsonMsg(err))
	}
	if len(*dst) == 0 {
		return errors.New("must list at least one address")
	}
	for _, a := range *dst {
		if err := checkHostPort(a); err != nil {
			return err
		}
	}
	return nil
}

func checkHostPort(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port", a)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || checkHost(host) != nil {
		return fmt.Errorf("%q is not host:port", a)
	}
	return nil
}

// checkHost accepts a host name or an IP address: no port, brackets or spaces, so that joining it
// with a port cannot make an address that means something else.
func checkHost(h string) error {
	if h == "" {
		return errors.New("must not be empty")
	}
	bad := strings.ContainsAny(h, "[]/") || !utf8.ValidString(h) ||
		strings.IndexFunc(h, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0
	if !bad && strings.Contains(h, ":") {
		a, err := netip.ParseAddr(h)
		bad = err != nil || !a.Is6() // a bare IPv6 address is the one host with colons
	}
	if bad {
		return fmt.Errorf("%q is not a host name or IP address (the port goes in \"port\")", h)
	}
	return nil
}

// decodeTLSVersion reads ssl_min_version as redis-py writes it: Python's ssl.TLSVersion, which JSON
// encodes as its number (771 is TLS 1.2), or its name ("TLSv1_2"). Below TLS 1.2 is refused.
func decodeTLSVersion(raw json.RawMessage, dst *uint16) error {
	var n int
	if err := decodeInt(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return errors.New(`must be a TLS version: 771, 772, "TLSv1_2" or "TLSv1_3"`)
		}
		switch strings.NewReplacer(".", "_", "-", "_").Replace(strings.ToUpper(strings.TrimPrefix(s, "ssl.TLSVersion."))) {
		case "TLSV1_2", "1_2", "MINIMUM_SUPPORTED":
			n = tls.VersionTLS12
		case "TLSV1_3", "1_3", "MAXIMUM_SUPPORTED":
			n = tls.VersionTLS13
		case "TLSV1", "TLSV1_0", "1_0", "TLSV1_1", "1_1", "SSLV3":
			return fmt.Errorf("%q is below TLS 1.2, which conn does not allow", s)
		default:
			return fmt.Errorf(`%q is not a TLS version ("TLSv1_2" or "TLSv1_3")`, s)
		}
	}
	switch n {
	case -2, tls.VersionTLS12: // -2: ssl.TLSVersion.MINIMUM_SUPPORTED
		*dst = tls.VersionTLS12
	case -1, tls.VersionTLS13: // -1: MAXIMUM_SUPPORTED
		*dst = tls.VersionTLS13
	case tls.VersionTLS10, tls.VersionTLS11, 0x0300: // 0x0300: SSL 3.0
		return fmt.Errorf("%d is below TLS 1.2, which conn does not allow", n)
	default:
		return fmt.Errorf("%d is not a TLS version (771 for TLS 1.2, 772 for 1.3)", n)
	}
	return nil
}
