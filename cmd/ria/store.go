package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
)

// configStore is the config Redis and a registry over it.
type configStore struct {
	addr   string // the config server as shown: its address, never its credentials
	client redis.UniversalClient
	reg    *conn.Registry
}

// store opens the config Redis named by --config, $RIA_CONFIG_URL or the default. Nothing is sent
// until a command reads.
func (e *env) store() (*configStore, error) {
	if e.cfg != nil {
		return e.cfg, nil
	}
	raw, from := e.g.configURL, "--config"
	if raw == "" {
		raw, from = e.getenv("RIA_CONFIG_URL"), "RIA_CONFIG_URL"
	}
	if raw == "" {
		raw, from = defaultConfigURL, "the default config URL"
	}
	cfg, err := configServer(raw)
	if err != nil {
		return nil, usagef(nil, "%s: %v; give a redis:// or rediss:// URL, or host:port", from, err)
	}
	client, err := cfg.NewClient()
	if err != nil {
		return nil, hint(fmt.Errorf("config server: %w", err), "check %s", from)
	}
	reg, err := conn.New(client, &conn.Options{Prefix: e.g.prefix, RefreshTimeout: e.g.timeout})
	if err != nil {
		client.Close()
		return nil, usagef(nil, "%v", err)
	}
	e.closers = append(e.closers, func() { client.Close() }, func() { reg.Close() })
	e.cfg = &configStore{addr: addrOf(cfg), client: client, reg: reg}
	return e.cfg, nil
}

// configServer parses the config server's URL or address with conn's parser, whose errors never
// quote a value (a URL holds a password).
func configServer(raw string) (*conn.Config, error) {
	field := "addr"
	if strings.Contains(raw, "://") {
		field = "url"
	}
	doc, _ := json.Marshal(map[string]string{field: raw})
	cfg, err := conn.ParseConfig(doc)
	if err != nil {
		return nil, err
	}
	if cfg.Kind != conn.KindSingle {
		return nil, errors.New("the config Redis must be one server")
	}
	return cfg, nil
}

// serverErr marks an error from the config server with what to check.
func (s *configStore) serverErr(err error) error {
	return hint(err, "the config Redis is %s: check it is up, or pass --config (or set RIA_CONFIG_URL)", s.addr)
}

// stored is one component's stored config, parsed.
type stored struct {
	component string
	key       string
	raw       []byte       // nil: none stored
	cfg       *conn.Config // nil when raw is nil or does not parse
	err       error        // why cfg is nil: none stored, a bad name, an unreadable key, or the parser's *ConfigError
	missing   bool         // none stored
	refused   bool         // the config server refused to read the key (keyRefused)
}

// load reads and parses component's config. A missing or invalid config is in the result's err,
// not the returned error, which is the config server's.
func (s *configStore) load(ctx context.Context, component string) (stored, error) {
	st := stored{component: component, key: s.reg.Key(component)}
	raw, err := s.reg.StoredConfig(ctx, component)
	switch {
	case errors.Is(err, conn.ErrNoConfig):
		st.err, st.missing = fmt.Errorf("no config stored at %s", st.key), true
		return st, nil
	case errors.Is(err, conn.ErrBadConfig):
		st.err = err // a bad component name
		return st, nil
	case keyRefused(err):
		st.err, st.refused = err, true
		return st, nil
	case err != nil:
		return st, s.serverErr(err)
	}
	st.raw = raw
	st.cfg, st.err = conn.ParseConfig(raw)
	if st.err != nil {
		st.err = fmt.Errorf("%s does not parse: %w", st.key, st.err)
	}
	return st, nil
}

// keyRefused reports a refusal of one key rather than of the config server: the key holds another
// type than a string (WRONGTYPE), or the config server's user may not read it (NOPERM). The other
// configs can still be read, so it is that component's failure only.
func keyRefused(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && (strings.HasPrefix(re.Error(), "WRONGTYPE ") || redis.IsPermissionError(err))
}

// refusedHint says what to do about a config key the config server refused to read.
func refusedHint(key string, err error) string {
	if redis.IsPermissionError(err) {
		return fmt.Sprintf("the config Redis's user may not read %s: grant it read access to the config keys", key)
	}
	return fmt.Sprintf("%s is not a string, so not a config: see what it is with redis-cli TYPE, and DEL it if nothing needs it", key)
}

// need is load for a component the command cannot do without.
func (s *configStore) need(ctx context.Context, component string) (stored, error) {
	st, err := s.load(ctx, component)
	if err != nil {
		return st, err
	}
	if st.err != nil {
		if st.refused {
			return st, hint(st.err, "%s", refusedHint(st.key, st.err))
		}
		if st.raw == nil {
			return st, hint(st.err, "list the stored configs with 'ria config list', or store one with 'ria config set %s JSON'", component)
		}
		return st, hint(st.err, "fix it with 'ria config set %s JSON'", component)
	}
	return st, nil
}

// addrOf describes where a config points, without credentials: host:port (or the socket) and the
// database, a cluster's seeds, or a sentinel master's name and sentinels.
func addrOf(c *conn.Config) string {
	var s string
	switch c.Kind {
	case conn.KindCluster:
		return strings.Join(c.Addrs, ",")
	case conn.KindSentinel:
		s = c.Master + "@" + strings.Join(c.Addrs, ",")
	default:
		s = c.Addr
		if s == "" {
			s = "localhost:6379"
		}
		if c.Network == "unix" {
			s = "unix:" + s
		}
	}
	if c.DB != 0 {
		s += "/" + strconv.Itoa(c.DB)
	}
	return s
}

// auth says which credentials a config carries, masked unless show.
func authOf(c *conn.Config, show bool) string {
	var parts []string
	add := func(name, v string) {
		if v == "" {
			return
		}
		if show {
			parts = append(parts, name+"="+v)
		} else {
			parts = append(parts, name+"="+conn.Masked)
		}
	}
	add("user", c.Username)
	add("password", c.Password)
	add("sentinel_user", c.SentinelUsername)
	add("sentinel_password", c.SentinelPassword)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
