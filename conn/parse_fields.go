package conn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
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
	serverName    string
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
	// Not redis-py's: the name to verify when it is not the host dialed (or there is none, on a unix socket).
	{name: "ssl_server_name", apply: strs(true, checkHost, func(c *Config, p *parseState, s string) { p.serverName = s })},

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
