package conn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

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
		c.Kind, c.Addrs = KindCluster, p.clusterAddrs
	case p.sentinel != nil:
		c.Kind, c.Master, c.Addrs = KindSentinel, p.sentinel.master, p.sentinel.addrs
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
	if c.Kind == KindCluster && c.DB != 0 {
		return fieldErr("db", fmt.Errorf("%w: a Redis Cluster has only database 0", ErrBadConfig))
	}
	for _, f := range []string{"read_only", "route_by_latency", "route_randomly"} {
		if p.seen[f] && c.Kind != KindCluster {
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
		"ssl_check_hostname", "ssl_min_version", "ssl_server_name", "skip_verify")
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
		c.TLS.MinVersion, c.TLS.ServerName = p.minVersion, p.serverName
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
	if c.Kind == KindSingle && c.Network == "unix" && c.TLS != nil && c.TLS.ServerName == "" && !c.TLS.SkipVerify {
		return fieldErr("ssl", fmt.Errorf("%w: TLS over a unix socket has no host name to verify (name one in \"ssl_server_name\")", ErrBadConfig))
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
