package conn

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors never quote a value from the config: any string may carry a password (a URL pasted into
// "addr", a password with a '/' that breaks a URL), and a quoted, escaped or decoded copy defeats
// masking. They name the field, the URL part or query option, and the rule the value broke.

// input is one setting's value as written: a JSON value of the config's own field, or the text of a
// query option of its "url". Each field checks its value once, whichever form it came in.
type input struct {
	raw   json.RawMessage // the JSON form
	text  string          // the query option's text
	query bool
}

func (in input) str() (string, error) {
	if in.query {
		return in.text, nil
	}
	var s string
	if err := json.Unmarshal(in.raw, &s); err != nil {
		return "", fmt.Errorf("must be a string: %s", jsonMsg(err))
	}
	return s, nil
}

func (in input) nonEmpty() (string, error) {
	s, err := in.str()
	if err == nil && s == "" {
		err = errors.New("must not be empty")
	}
	return s, err
}

// integer reads a JSON number or, as go-redis does, a query option's decimal text.
func (in input) integer() (int, error) {
	if in.query {
		n, err := strconv.Atoi(in.text)
		if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
			return 0, errors.New("must be an integer")
		}
		return n, nil
	}
	var f float64
	if err := json.Unmarshal(in.raw, &f); err != nil {
		return 0, fmt.Errorf("must be an integer: %s", jsonMsg(err))
	}
	if f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		return 0, errors.New("must be an integer (a whole number below 2^31 in size)")
	}
	return int(f), nil
}

// boolean reads JSON true/false or go-redis's query forms: true, false, 1, 0.
func (in input) boolean() (bool, error) {
	if in.query {
		switch in.text {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return false, errors.New("must be true, false, 1 or 0")
	}
	var b bool
	if err := json.Unmarshal(in.raw, &b); err != nil {
		return false, fmt.Errorf("must be true or false: %s", jsonMsg(err))
	}
	return b, nil
}

const maxDuration = 24 * time.Hour

var errDurationRange = errors.New("must be more than 0 and at most a day (conn does not turn timeouts off, " +
	"so a call on a dead server cannot hang)")

// duration reads seconds as a JSON number (redis-py's form, 0.5 is 500ms) or text as go-redis reads a
// URL's: whole seconds ("2") or a Go duration ("500ms"). go-redis's 0 and negative values, which turn a
// timeout or a limit off, are refused.
func (in input) duration() (time.Duration, error) {
	text := in.text
	if !in.query {
		var f float64
		if json.Unmarshal(in.raw, &f) == nil {
			d := time.Duration(f * float64(time.Second))
			if f <= 0 || f > maxDuration.Seconds() || d <= 0 {
				return 0, errDurationRange
			}
			return d, nil
		}
		if err := json.Unmarshal(in.raw, &text); err != nil {
			return 0, errors.New(`must be seconds as a number (0.5) or a duration string ("500ms")`)
		}
	}
	if n, err := strconv.Atoi(text); err == nil {
		if n <= 0 || n > int(maxDuration.Seconds()) {
			return 0, errDurationRange
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, errors.New(`is not a duration ("500ms", "2s", or whole seconds)`)
	}
	if d <= 0 || d > maxDuration {
		return 0, errDurationRange
	}
	return d, nil
}

type applyFunc func(c *Config, p *parseState, in input) error

// ints checks an integer against [lo, hi]; rule says the range in words.
func ints(lo, hi int, rule string, set func(c *Config, p *parseState, n int)) applyFunc {
	return func(c *Config, p *parseState, in input) error {
		n, err := in.integer()
		if err != nil {
			return err
		}
		if n < lo || n > hi {
			return errors.New("must be " + rule)
		}
		set(c, p, n)
		return nil
	}
}

func durations(set func(c *Config, p *parseState, d time.Duration)) applyFunc {
	return func(c *Config, p *parseState, in input) error {
		d, err := in.duration()
		if err == nil {
			set(c, p, d)
		}
		return err
	}
}

func bools(set func(c *Config, p *parseState, b bool)) applyFunc {
	return func(c *Config, p *parseState, in input) error {
		b, err := in.boolean()
		if err == nil {
			set(c, p, b)
		}
		return err
	}
}

// strs reads a string; nonEmpty refuses "", check (optional) validates it.
func strs(nonEmpty bool, check func(string) error, set func(c *Config, p *parseState, s string)) applyFunc {
	return func(c *Config, p *parseState, in input) error {
		s, err := in.str()
		if err != nil {
			return err
		}
		if nonEmpty && s == "" {
			return errors.New("must not be empty")
		}
		if check != nil {
			if err := check(s); err != nil {
				return err
			}
		}
		set(c, p, s)
		return nil
	}
}

// field describes one accepted JSON key.
type field struct {
	name  string
	query bool     // go-redis's ParseURL also reads it from a URL's query (options.go, setupConnParams)
	slots []string // the settings it fills, if not just its own name: two fields sharing one conflict
	apply applyFunc
}

func (f *field) fills() []string {
	if f.slots != nil {
		return f.slots
	}
	return []string{f.name}
}

// parseState holds what is seen while parsing and resolved at the end.
type parseState struct {
	seen          map[string]bool // JSON fields given (not null)
	query         map[string]bool // the url's query options given (not empty)
	host          string
	port          int
	socketTimeout time.Duration
	certReqs      string
	checkHostname *bool
	skipVerify    *bool
	ssl           bool
	caFile        string
	cert, key     string
	caPath        string
	minVersion    uint16
	clusterAddrs  []string
	sentinel      *sentinelConfig
	url           string
}

type sentinelConfig struct {
	master, username, password string
	addrs                      []string
}

// Accepted redis-py keys that mean nothing to a Go client are type-checked, then ignored, so that a
// config written for the book's Python code parses and a typo in one still fails.
var (
	ignoreBool   = bools(func(*Config, *parseState, bool) {})
	ignoreString = strs(true, nil, func(*Config, *parseState, string) {})
)

func ignoreSeconds(_ *Config, _ *parseState, in input) error {
	var f float64
	if err := json.Unmarshal(in.raw, &f); err != nil {
		return fmt.Errorf("must be seconds as a number: %s", jsonMsg(err))
	}
	if f < 0 || f > maxDuration.Seconds() {
		return errors.New("must be 0 to a day, in seconds")
	}
	return nil
}

const maxBuffer = 64 << 20 // a pipeline buffer beyond this is a typo, not a tuning

var fields = []field{
	// redis-py keyword form
	{name: "host", apply: strs(true, checkHost, func(c *Config, p *parseState, s string) { p.host = s })},
	{name: "port", apply: ints(1, 65535, "a port, 1 to 65535", func(c *Config, p *parseState, n int) { p.port = n })},
	{name: "db", query: true, apply: ints(0, math.MaxInt32, "0 or more", func(c *Config, p *parseState, n int) { c.DB = n })},
	{name: "username", apply: strs(false, nil, func(c *Config, p *parseState, s string) { c.Username = s })},
	{name: "password", apply: strs(false, nil, func(c *Config, p *parseState, s string) { c.Password = s })},
	{name: "unix_socket_path", apply: strs(true, checkSocketPath, func(c *Config, p *parseState, s string) {
		c.Network, c.Addr = "unix", s
	})},
	{name: "ssl", apply: bools(func(c *Config, p *parseState, b bool) { p.ssl = b })},
	{name: "ssl_ca_certs", apply: strs(true, nil, func(c *Config, p *parseState, s string) { p.caFile = s })},
	{name: "ssl_certfile", apply: strs(true, nil, func(c *Config, p *parseState, s string) { p.cert = s })},
	{name: "ssl_keyfile", apply: strs(true, nil, func(c *Config, p *parseState, s string) { p.key = s })},
	{name: "ssl_cert_reqs", slots: []string{"verify"}, apply: strs(true, func(s string) error {
		switch strings.TrimPrefix(strings.ToLower(s), "cert_") {
		case "required", "optional", "none":
			return nil
		}
		return errors.New("must be one of required, optional, none")
	}, func(c *Config, p *parseState, s string) {
		// A client verifies in both required and optional (Python's ssl module treats them alike).
		p.certReqs = strings.TrimPrefix(strings.ToLower(s), "cert_")
	})},
	{name: "ssl_check_hostname", apply: bools(func(c *Config, p *parseState, b bool) { p.checkHostname = &b })},
	{name: "socket_timeout", slots: []string{"read_timeout", "write_timeout"},
		apply: durations(func(c *Config, p *parseState, d time.Duration) { p.socketTimeout = d })},
	{name: "socket_connect_timeout", slots: []string{"dial_timeout"},
		apply: durations(func(c *Config, p *parseState, d time.Duration) { c.DialTimeout = d })},
	{name: "client_name", query: true, apply: strs(false, checkClientName, func(c *Config, p *parseState, s string) { c.ClientName = s })},
	{name: "max_connections", slots: []string{"pool_size"},
		apply: ints(1, math.MaxInt32, "at least 1", func(c *Config, p *parseState, n int) { c.PoolSize = n })},
	{name: "ssl_ca_path", apply: strs(true, nil, func(c *Config, p *parseState, s string) { p.caPath = s })},
	{name: "ssl_min_version", apply: func(c *Config, p *parseState, in input) error { return decodeTLSVersion(in.raw, &p.minVersion) }},

	// redis-py keys with no Go meaning: type-checked and ignored.
	{name: "decode_responses", apply: ignoreBool},         // go-redis always returns typed replies
	{name: "encoding", apply: ignoreString},               // Go strings are bytes; no decoding
	{name: "encoding_errors", apply: ignoreString},        // likewise
	{name: "health_check_interval", apply: ignoreSeconds}, // go-redis checks idle connections itself
	{name: "socket_keepalive", apply: ignoreBool},         // Go's dialer keeps TCP alive by default
	{name: "retry_on_timeout", apply: ignoreBool},         // conn makes no retries unless max_retries asks (see the package doc)
	{name: "single_connection_client", apply: ignoreBool}, // a go-redis client is a pool, safe for concurrent use
	{name: "lib_name", apply: ignoreString},               // go-redis sends its own CLIENT SETINFO
	{name: "lib_version", apply: ignoreString},            // likewise
	// crypto/tls reads only unencrypted keys: an encrypted ssl_keyfile fails in NewClient.
	{name: "ssl_password", apply: strs(false, nil, func(*Config, *parseState, string) {})},

	// Go forms
	{name: "addr", apply: strs(true, nil, func(c *Config, p *parseState, s string) {
		c.Addr = s // checked in resolve, once "network" is known
	})},
	{name: "network", apply: strs(true, func(s string) error {
		if s != "tcp" && s != "unix" {
			return errors.New("must be tcp or unix")
		}
		return nil
	}, func(c *Config, p *parseState, s string) { c.Network = s })},
	{name: "url", apply: strs(true, nil, func(c *Config, p *parseState, s string) { p.url = s })},
	{name: "cluster", apply: func(c *Config, p *parseState, in input) error {
		addrs, err := decodeAddrs(in.raw)
		p.clusterAddrs = addrs
		return err
	}},
	{name: "sentinel", apply: func(c *Config, p *parseState, in input) error {
		s, err := decodeSentinel(in.raw)
		p.sentinel = s
		return err
	}},
	{name: "dial_retries", apply: ints(-1, math.MaxInt32, "-1 (go-redis's default) or more",
		func(c *Config, p *parseState, n int) { c.DialRetries = n })},
	{name: "read_only", apply: bools(func(c *Config, p *parseState, b bool) { c.ReadOnly = b })},
	{name: "route_by_latency", apply: bools(func(c *Config, p *parseState, b bool) { c.RouteByLatency = b })},
	{name: "route_randomly", apply: bools(func(c *Config, p *parseState, b bool) { c.RouteRandomly = b })},

	// go-redis's options, also read from a URL's query (the same names, as in redis.ParseURL)
	{name: "protocol", query: true, apply: ints(2, 3, "2 or 3", func(c *Config, p *parseState, n int) { c.Protocol = n })},
	{name: "max_retries", query: true, apply: ints(-1, math.MaxInt32, "-1 or more (-1 and 0 both mean no retries)",
		func(c *Config, p *parseState, n int) { c.MaxRetries = max(n, 0) })},
	{name: "min_retry_backoff", query: true, apply: durations(func(c *Config, p *parseState, d time.Duration) { c.MinRetryBackoff = d })},
	{name: "max_retry_backoff", query: true, apply: durations(func(c *Config, p *parseState, d time.Duration) { c.MaxRetryBackoff = d })},
	{name: "dial_timeout", query: true, apply: durations(func(c *Config, p *parseState, d time.Duration) { c.DialTimeout = d })},
	{name: "read_timeout", query: true, apply: durations(func(c *Config, p *parseState, d time.Duration) { c.ReadTimeout = d })},
	{name: "write_timeout", query: true, apply: durations(func(c *Config, p *parseState, d time.Duration) { c.WriteTimeout = d })},
	{name: "pool_fifo", query: true, apply: bools(func(c *Config, p *parseState, b bool) { c.PoolFIFO = b })},
	{name: "pool_size", query: true, apply: ints(1, math.MaxInt32, "at least 1", func(c *Config, p *parseState, n int) { c.PoolSize = n })},
	{name: "pool_timeout", query: true, apply: durations(func(c *Config, p *parseState, d time.Duration) { c.PoolTimeout = d })},
	{name: "min_idle_conns", query: true, apply: ints(0, math.MaxInt32, "0 or more", func(c *Config, p *parseState, n int) { c.MinIdleConns = n })},
	{name: "max_idle_conns", query: true, apply: ints(0, math.MaxInt32, "0 or more", func(c *Config, p *parseState, n int) { c.MaxIdleConns = n })},
	{name: "max_active_conns", query: true, apply: ints(0, math.MaxInt32, "0 (no limit) or more",
		func(c *Config, p *parseState, n int) { c.MaxActiveConns = n })},
	{name: "max_concurrent_dials", query: true, apply: ints(0, math.MaxInt32, "0 (the pool size) or more",
		func(c *Config, p *parseState, n int) { c.MaxConcurrentDials = n })},
	{name: "pipeline_pool_size", query: true, apply: ints(-1, math.MaxInt32, "-1 (no pipeline pool) or more",
		func(c *Config, p *parseState, n int) { c.PipelinePoolSize = n })},
	{name: "pipeline_read_buffer_size", query: true, apply: ints(0, maxBuffer, "0 to 64 MiB, in bytes",
		func(c *Config, p *parseState, n int) { c.PipelineReadBufferSize = n })},
	{name: "pipeline_write_buffer_size", query: true, apply: ints(0, maxBuffer, "0 to 64 MiB, in bytes",
		func(c *Config, p *parseState, n int) { c.PipelineWriteBufferSize = n })},
	{name: "conn_max_idle_time", query: true, apply: durations(func(c *Config, p *parseState, d time.Duration) { c.ConnMaxIdleTime = d })},
	{name: "idle_timeout", query: true, slots: []string{"conn_max_idle_time"}, // go-redis's older name
		apply: durations(func(c *Config, p *parseState, d time.Duration) { c.ConnMaxIdleTime = d })},
	{name: "conn_max_lifetime", query: true, apply: durations(func(c *Config, p *parseState, d time.Duration) { c.ConnMaxLifetime = d })},
	{name: "max_conn_age", query: true, slots: []string{"conn_max_lifetime"}, // go-redis's older name
		apply: durations(func(c *Config, p *parseState, d time.Duration) { c.ConnMaxLifetime = d })},
	{name: "conn_max_lifetime_jitter", query: true,
		apply: durations(func(c *Config, p *parseState, d time.Duration) { c.ConnMaxLifetimeJitter = d })},
	{name: "skip_verify", query: true, slots: []string{"verify"}, apply: bools(func(c *Config, p *parseState, b bool) { p.skipVerify = &b })},
}

func lookup(name string) *field {
	i := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
	if i < 0 {
		return nil
	}
	return &fields[i]
}

// ParseConfig parses and validates a component's JSON config. Errors are *ConfigError values that name
// the field; they never quote a value from the config, so they cannot show a password.
func ParseConfig(data []byte) (*Config, error) {
	c, err := parseConfig(data)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func parseConfig(data []byte) (*Config, error) {
	ms, ce := members(data)
	if ce != nil {
		ce.Err = fmt.Errorf("%w: %v", ErrBadConfig, ce.Err)
		return nil, ce
	}
	c := &Config{}
	p := &parseState{seen: map[string]bool{}, query: map[string]bool{}}
	for _, m := range ms { // sorted by name: the same first error every time
		f := lookup(m.name)
		if f == nil {
			return nil, fieldErr(m.name, fmt.Errorf("%w: unknown field", ErrBadConfig))
		}
		if string(m.raw) == "null" { // Python's None: the same as leaving the key out
			continue
		}
		p.seen[m.name] = true
		if err := f.apply(c, p, input{raw: m.raw}); err != nil {
			return nil, fieldErr(m.name, fmt.Errorf("%w: %v", ErrBadConfig, err))
		}
	}
	if err := p.resolve(c); err != nil {
		return nil, err
	}
	return c, nil
}

type member struct {
	name string
	raw  json.RawMessage
}

// members reads a JSON object strictly, unlike encoding/json: valid UTF-8 and no lone surrogate
// escapes (which encoding/json turns into U+FFFD), no key twice, nothing after the object. Its error
// names the member at fault, or none when the fault is the document's; it does not wrap ErrBadConfig.
func members(data []byte) ([]member, *ConfigError) {
	bad := func(format string, a ...any) ([]member, *ConfigError) {
		return nil, &ConfigError{Err: fmt.Errorf(format, a...)}
	}
	d := json.NewDecoder(bytes.NewReader(data))
	tok, err := d.Token()
	if err != nil {
		return bad("not a JSON object: %s", jsonMsg(err))
	}
	if tok != json.Delim('{') {
		return bad("not a JSON object (%s)", jsonKind(tok))
	}
	type span struct{ start, end int64 }
	var ms []member
	var spans []span
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return bad("not valid JSON: %s", jsonMsg(err))
		}
		name, _ := tok.(string) // an object's keys are strings
		start := d.InputOffset()
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return bad("not valid JSON: %s", jsonMsg(err))
		}
		ms = append(ms, member{name, raw})
		spans = append(spans, span{start, d.InputOffset()})
	}
	if _, err := d.Token(); err != nil {
		return bad("not valid JSON: %s", jsonMsg(err))
	}
	if _, err := d.Token(); err != io.EOF {
		return bad("not valid JSON: something follows the object")
	}
	if off := badText(data); off >= 0 {
		for i, s := range spans {
			if int64(off) >= s.start && int64(off) < s.end {
				return nil, &ConfigError{Field: ms[i].name,
					Err: fmt.Errorf("holds a string that is not valid UTF-8 (at byte %d)", off)}
			}
		}
		return bad("a key is not valid UTF-8 (at byte %d)", off)
	}
	slices.SortStableFunc(ms, func(a, b member) int { return strings.Compare(a.name, b.name) })
	for i := 1; i < len(ms); i++ {
		if ms[i].name == ms[i-1].name {
			return nil, &ConfigError{Field: ms[i].name, Err: errors.New("given twice")}
		}
	}
	return ms, nil
}

// badText returns the offset of the first byte of JSON text that is not valid UTF-8, or of a \u
// escape that is a lone surrogate, or -1. The text is valid JSON.
func badText(b []byte) int {
	hex := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	inString := false
	for i := 0; i < len(b); {
		if b[i] >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return i
			}
			i += n
			continue
		}
		switch {
		case !inString:
			inString = b[i] == '"'
		case b[i] == '"':
			inString = false
		case b[i] == '\\':
			r, ok := hex(i)
			if !ok {
				i += 2 // a one-letter escape
				continue
			}
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return i // a low surrogate with no high one before it
			case r >= 0xD800 && r <= 0xDBFF:
				if lo, ok := hex(i + 6); !ok || lo < 0xDC00 || lo > 0xDFFF {
					return i
				}
				i += 12
				continue
			}
			i += 6
			continue
		}
		i++
	}
	return -1
}

func jsonKind(tok json.Token) string {
	switch tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	}
	return "an array"
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
	if err := p.slotConflicts(); err != nil {
		return err
	}

	switch {
	case p.seen["cluster"]:
		c.Kind, c.Addrs = Cluster, p.clusterAddrs
	case p.sentinel != nil:
		c.Kind, c.Master, c.Addrs = Sentinel, p.sentinel.master, p.sentinel.addrs
		c.SentinelUsername, c.SentinelPassword = p.sentinel.username, p.sentinel.password
	case p.seen["url"]:
		if err := p.applyURL(c); err != nil {
			return err
		}
	case p.seen["unix_socket_path"]:
		c.Network = "unix"
	case p.seen["addr"]:
		if c.Network == "" {
			c.Network = "tcp"
		}
		check := checkHostPort
		if c.Network == "unix" {
			check = checkSocketPath
		}
		if err := check(c.Addr); err != nil {
			return fieldErr("addr", fmt.Errorf("%w: %v", ErrBadConfig, err))
		}
	default:
		// redis-py's defaults, as redis.Redis(**config) applies them: a config that names no server
		// any other way ({}, {"db": 15}, {"port": 6380}) means localhost:6379.
		host, port := p.host, p.port
		if host == "" {
			host = "localhost"
		}
		if port == 0 {
			port = 6379
		}
		c.Network, c.Addr = "tcp", net.JoinHostPort(host, strconv.Itoa(port))
	}
	if p.seen["network"] && !p.seen["addr"] {
		return fieldErr("network", fmt.Errorf("%w: applies only with \"addr\"", ErrBadConfig))
	}
	if c.Kind == Cluster && c.DB != 0 {
		return fieldErr("db", fmt.Errorf("%w: a Redis Cluster has only database 0", ErrBadConfig))
	}
	for _, f := range []string{"read_only", "route_by_latency", "route_randomly"} {
		if p.seen[f] && c.Kind != Cluster {
			return fieldErr(f, fmt.Errorf("%w: applies only with \"cluster\"", ErrBadConfig))
		}
	}
	if p.seen["socket_timeout"] {
		c.ReadTimeout, c.WriteTimeout = p.socketTimeout, p.socketTimeout
	}
	if c.ConnMaxLifetimeJitter > 0 && c.ConnMaxLifetimeJitter > c.ConnMaxLifetime {
		return p.settingErr("conn_max_lifetime_jitter", errors.New("needs conn_max_lifetime, and must be at most as long"))
	}

	tlsFields := has("ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile", "ssl_password", "ssl_cert_reqs",
		"ssl_check_hostname", "ssl_min_version", "skip_verify")
	if p.query["skip_verify"] && !p.ssl {
		return p.settingErr("skip_verify", errors.New("applies only with rediss://"))
	}
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
		c.TLS.SkipVerify = p.certReqs == "none" || (p.skipVerify != nil && *p.skipVerify)
		c.TLS.NoHostnameCheck = p.checkHostname != nil && !*p.checkHostname && !c.TLS.SkipVerify
	}
	if c.Kind == Single && c.Network == "unix" && c.TLS != nil && c.TLS.ServerName == "" && !c.TLS.SkipVerify {
		return fieldErr("ssl", fmt.Errorf("%w: TLS over a unix socket has no host name to verify", ErrBadConfig))
	}
	return nil
}

// settingErr is an error about a setting given either as a JSON field or as a query option of "url".
func (p *parseState) settingErr(name string, err error) error {
	if p.query[name] {
		return fieldErr("url", fmt.Errorf("%w: query option %q: %v", ErrBadConfig, name, err))
	}
	return fieldErr(name, fmt.Errorf("%w: %v", ErrBadConfig, err))
}

// slotConflicts refuses two JSON fields that fill the same setting (socket_timeout and read_timeout,
// max_connections and pool_size): which one wins would be a guess. The error names the alias.
func (p *parseState) slotConflicts() error {
	var given []*field
	for i := range fields {
		if p.seen[fields[i].name] {
			given = append(given, &fields[i])
		}
	}
	for i, a := range given {
		for _, b := range given[i+1:] {
			for _, s := range a.fills() {
				if !slices.Contains(b.fills(), s) {
					continue
				}
				// Name the alias (socket_timeout, not read_timeout); of two aliases, the later by name.
				aliasA, aliasB := !slices.Contains(a.fills(), a.name), !slices.Contains(b.fills(), b.name)
				named, other := a, b
				if aliasB && (!aliasA || b.name > a.name) {
					named, other = b, a
				}
				return fieldErr(named.name, fmt.Errorf("%w: cannot be combined with %q", ErrBadConfig, other.name))
			}
		}
	}
	return nil
}

// applyURL expands a redis://, rediss:// or unix:// URL as go-redis's ParseURL reads it, checking each
// part and query option with the rule of the matching JSON field.
func (p *parseState) applyURL(c *Config) error {
	hint := ""
	if misplacedAt(p.url) {
		hint = " (an '@' follows a '/', '?' or '#': in a user name or password, write / ? # @ % as %2F %3F %23 %40 %25)"
	}
	bad := func(format string, a ...any) error {
		return fieldErr("url", fmt.Errorf("%w: %s%s", ErrBadConfig, fmt.Sprintf(format, a...), hint))
	}
	u, err := url.Parse(p.url) // its error repeats the URL: never shown
	if err != nil {
		if hint == "" {
			hint = " (in a user name or password, write / ? # @ % as %2F %3F %23 %40 %25)"
		}
		return bad("not a valid URL")
	}
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
		return bad("the scheme must be redis, rediss or unix")
	case u.Opaque != "":
		return bad("no \"//\" after the scheme")
	case strings.Contains(p.url, "#"):
		return bad("a fragment ('#') means nothing to Redis")
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	db := ""
	if u.Scheme == "unix" {
		if u.Host != "" {
			return bad("a unix:// URL names no host: write unix:///path/to/redis.sock")
		}
		if strings.TrimSpace(u.Path) == "" {
			return bad("the socket path is empty")
		}
		if err := checkSocketPath(u.Path); err != nil {
			return bad("the socket path %v", err)
		}
		c.Network, c.Addr = "unix", u.Path
	} else {
		host := u.Hostname()
		if host == "" {
			host = "localhost" // go-redis's and redis-py's default
		}
		if err := checkHost(host); err != nil {
			return bad("the host %v", err)
		}
		port := 6379
		if s := u.Port(); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 65535 {
				return bad("the port must be 1 to 65535")
			}
			port = n
		}
		c.Network, c.Addr = "tcp", net.JoinHostPort(host, strconv.Itoa(port))
		switch f := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' }); len(f) {
		case 0:
		case 1:
			db = f[0]
		default:
			return bad("the path must be empty or /<database number>")
		}
		if u.Scheme == "rediss" {
			p.ssl = true
			c.TLS = &TLSConfig{} // ServerName empty: the host dialed, as go-redis sets it
		}
	}
	if db != "" {
		if err := lookup("db").apply(c, p, input{text: db, query: true}); err != nil {
			return bad("the path's database number %v", err)
		}
	}

	q, err := url.ParseQuery(u.RawQuery) // u.Query() would drop what it cannot parse
	if err != nil {
		return bad("the query is not valid (write & between options, and %% as %%25)")
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f := lookup(name)
		if f == nil || !f.query {
			return bad("%s", unknownOption(name))
		}
		vs := q[name]
		if len(vs) > 1 {
			return bad("query option %q is given %d times", name, len(vs))
		}
		if vs[0] == "" {
			continue // go-redis: an empty value means the default
		}
		if name == "db" && db != "" {
			return bad("the database is named twice, in the path and in query option \"db\"")
		}
		for _, g := range fields {
			if p.seen[g.name] && slices.ContainsFunc(g.fills(), func(s string) bool { return slices.Contains(f.fills(), s) }) {
				return fieldErr(g.name, fmt.Errorf("%w: cannot be combined with the url's query option %q", ErrBadConfig, name))
			}
			if p.query[g.name] && slices.ContainsFunc(g.fills(), func(s string) bool { return slices.Contains(f.fills(), s) }) {
				return bad("query options %q and %q set the same option", g.name, name)
			}
		}
		if err := f.apply(c, p, input{text: vs[0], query: true}); err != nil {
			return bad("query option %q: %v", name, err)
		}
		p.query[name] = true
	}
	return nil
}

// misplacedAt reports whether an '@' comes after the authority's end, the mark of a password holding
// '/', '?' or '#' unescaped.
func misplacedAt(raw string) bool {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return false
	}
	at := strings.LastIndex(rest, "@")
	end := strings.IndexAny(rest, "/?#")
	return at >= 0 && end >= 0 && end < at
}

// unknownOption explains a query option go-redis does not read, naming only known options: the
// unknown name itself may be a piece of a password.
func unknownOption(name string) string {
	if f := lookup(name); f != nil {
		return fmt.Sprintf("query option %q is not one go-redis reads from a URL", f.name)
	}
	best, dist := "", 3
	for _, f := range fields {
		if d := editDistance(name, f.name); f.query && d < dist {
			best, dist = f.name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("an unknown query option (did you mean %q?)", best)
	}
	var known []string
	for _, f := range fields {
		if f.query {
			known = append(known, f.name)
		}
	}
	return "an unknown query option (go-redis reads " + strings.Join(known, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func fieldErr(name string, err error) *ConfigError { return &ConfigError{Field: name, Err: err} }

// jsonMsg describes a decoding error without quoting the input.
func jsonMsg(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		kind, _, _ := strings.Cut(te.Value, " ") // "number 1e400": the kind only
		return "got a JSON " + kind
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "it ends too soon"
	}
	return "not valid JSON"
}

func decodeAddrs(raw json.RawMessage) ([]string, error) {
	var addrs []string
	if err := json.Unmarshal(raw, &addrs); err != nil {
		return nil, fmt.Errorf(`must be a list of "host:port" strings: %s`, jsonMsg(err))
	}
	if len(addrs) == 0 {
		return nil, errors.New("must list at least one address")
	}
	for i, a := range addrs {
		if err := checkHostPort(a); err != nil {
			return nil, fmt.Errorf("entry %d %v", i+1, err)
		}
	}
	return addrs, nil
}

// decodeSentinel reads {"master", "addrs", "username", "password"}, keys matched exactly.
func decodeSentinel(raw json.RawMessage) (*sentinelConfig, error) {
	const shape = `must be an object {"master", "addrs", "username", "password"}`
	if bytes.TrimLeft(raw, " \t\r\n")[0] != '{' {
		return nil, errors.New(shape)
	}
	ms, ce := members(raw)
	if ce != nil {
		if ce.Field != "" {
			return nil, fmt.Errorf("%q: %v", ce.Field, ce.Err)
		}
		return nil, ce.Err
	}
	s := &sentinelConfig{}
	for _, m := range ms {
		if string(m.raw) == "null" {
			continue
		}
		in := input{raw: m.raw}
		var err error
		switch m.name {
		case "master":
			s.master, err = in.nonEmpty()
			if err == nil {
				err = checkName(s.master)
			}
		case "addrs":
			s.addrs, err = decodeAddrs(m.raw)
		case "username":
			s.username, err = in.str()
		case "password":
			s.password, err = in.str()
		default:
			return nil, fmt.Errorf("unknown key %q (the keys are master, addrs, username and password, in lower case)", m.name)
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %v", m.name, err)
		}
	}
	if s.master == "" {
		return nil, errors.New(`"master" is missing`)
	}
	if len(s.addrs) == 0 {
		return nil, errors.New(`"addrs" is missing`)
	}
	return s, nil
}

// checkHostPort accepts host:port with checkHost's host and a port from 1 to 65535.
func checkHostPort(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return errors.New(`is not "host:port"`)
	}
	if err := checkHost(host); err != nil {
		return errors.New(`is not "host:port": the host ` + err.Error())
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strings.ContainsAny(port, "+-") {
		return errors.New(`is not "host:port": the port must be 1 to 65535`)
	}
	return nil
}

// checkHost accepts an IP address or a host name of ASCII letters, digits, '-', '_' and '.'. Nothing
// else: no port, brackets or spaces, so joining it with a port cannot make an address that means
// something else, and no '@' or ':', so a URL's credentials pasted into it are refused, not shown.
func checkHost(h string) error {
	if a, err := netip.ParseAddr(h); err == nil && (a.Is4() || a.Is6()) {
		return nil
	}
	ok := h != "" && len(h) <= 253 && h[0] != '.' && h[0] != '-' && !strings.Contains(h, "..")
	for i := 0; ok && i < len(h); i++ {
		b := h[i]
		ok = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.'
	}
	if !ok {
		return errors.New("is not an IP address or a host name of letters, digits, '-', '_' and '.' " +
			"(a port goes in \"port\", a non-ASCII name in its xn-- form)")
	}
	return nil
}

// checkSocketPath refuses control characters, and anything that looks like a URL or credentials
// (an '@' past the first byte: a leading one names a Linux abstract socket).
func checkSocketPath(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0:
		return errors.New("holds a control character")
	case strings.Contains(s, "://") || strings.Contains(s[1:], "@"):
		return errors.New("looks like a URL or holds credentials ('@'): give a URL as \"url\"")
	}
	return nil
}

// checkClientName applies Redis's rule for CLIENT SETNAME: printable ASCII, no spaces. Redis refuses
// anything else, and go-redis sends the name on every new connection, so every call would fail.
func checkClientName(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return errors.New("must be printable ASCII without spaces (Redis refuses any other CLIENT SETNAME)")
		}
	}
	return nil
}

// checkName refuses control characters and spaces in a sentinel master's name.
func checkName(s string) error {
	if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == utf8.RuneError }) >= 0 {
		return errors.New("must hold no spaces or control characters")
	}
	return nil
}

// decodeTLSVersion reads ssl_min_version as redis-py writes it: Python's ssl.TLSVersion, which JSON
// encodes as its number (771 is TLS 1.2), or its name ("TLSv1_2"). Below TLS 1.2 is refused.
func decodeTLSVersion(raw json.RawMessage, dst *uint16) error {
	n, err := input{raw: raw}.integer()
	if err != nil {
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
			return errors.New("is below TLS 1.2, which conn does not allow")
		default:
			return errors.New(`is not a TLS version ("TLSv1_2" or "TLSv1_3")`)
		}
	}
	switch n {
	case -2, tls.VersionTLS12: // -2: ssl.TLSVersion.MINIMUM_SUPPORTED
		*dst = tls.VersionTLS12
	case -1, tls.VersionTLS13: // -1: MAXIMUM_SUPPORTED
		*dst = tls.VersionTLS13
	case tls.VersionTLS10, tls.VersionTLS11, 0x0300: // 0x0300: SSL 3.0
		return errors.New("is below TLS 1.2, which conn does not allow")
	default:
		return errors.New("is not a TLS version (771 for TLS 1.2, 772 for 1.3)")
	}
	return nil
}
