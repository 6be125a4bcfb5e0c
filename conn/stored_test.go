package conn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// genConfig makes a random Config of the shape ParseConfig returns, of every kind, with every field
// that kind holds given a value (or left zero) at random. Each secret carries a token of its own from
// tokens, so a test can look for it in output.
type genConfig struct {
	r      *rand.Rand
	tokens []string
}

func (g *genConfig) token() string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 10)
	for i := range b {
		b[i] = alnum[g.r.IntN(len(alnum))]
	}
	g.tokens = append(g.tokens, string(b))
	return string(b)
}

// secret is empty, or a token wrapped in text from every class a password may hold: URL and JSON
// punctuation, control bytes, non-ASCII; with invalid UTF-8 too when raw (a URL's user info).
func (g *genConfig) secret(raw bool) string {
	if g.r.IntN(4) == 0 {
		return ""
	}
	parts := []string{"", "/?#@%:", `"\`, "\x00\t\n\x7f", "caf\u00e9\u6f22", " ", "<&>", "\u2028"}
	if raw {
		parts = append(parts, "\xff\xfe", "\xc3")
	}
	pick := func() string { return parts[g.r.IntN(len(parts))] }
	return pick() + g.token() + pick()
}

func (g *genConfig) host() string {
	hosts := []string{"h", "10.0.0.5", "::1", "cache-1.example.com", "fe80::1", "a_b", "127.0.0.1"}
	return hosts[g.r.IntN(len(hosts))]
}

func (g *genConfig) hostPort() string {
	return net.JoinHostPort(g.host(), strconv.Itoa(1+g.r.IntN(65535)))
}

func (g *genConfig) addrs() []string {
	out := make([]string, 1+g.r.IntN(4))
	for i := range out {
		out[i] = g.hostPort()
	}
	return out
}

func (g *genConfig) dur() time.Duration {
	switch g.r.IntN(4) {
	case 0:
		return 0
	case 1:
		return time.Duration(1 + g.r.Int64N(int64(time.Second))) // any nanosecond count
	case 2:
		return 24 * time.Hour
	}
	return time.Duration(1+g.r.IntN(86400)) * time.Second
}

func (g *genConfig) num(lo, hi int) int {
	if g.r.IntN(3) == 0 {
		return 0
	}
	return lo + g.r.IntN(hi-lo+1)
}

func (g *genConfig) tls(unix bool) *TLSConfig {
	if !unix && g.r.IntN(3) == 0 {
		return nil
	}
	t := &TLSConfig{}
	if g.r.IntN(2) == 0 {
		t.CAFile = "/etc/ssl/ca " + g.token() + ".pem"
	}
	if g.r.IntN(2) == 0 {
		t.CAPath = "/etc/ssl/certs"
	}
	if g.r.IntN(2) == 0 {
		t.CertFile, t.KeyFile = "c.pem", "k.pem"
	}
	t.MinVersion = []uint16{0, tls.VersionTLS12, tls.VersionTLS13}[g.r.IntN(3)]
	if unix || g.r.IntN(2) == 0 {
		t.ServerName = []string{"cache.example.com", "10.0.0.5", "redis"}[g.r.IntN(3)]
	}
	switch g.r.IntN(4) {
	case 0:
		t.SkipVerify = true
	case 1:
		t.NoHostnameCheck = true
	}
	return t
}

func (g *genConfig) config() *Config {
	c := &Config{Kind: Kind(g.r.IntN(3))}
	switch c.Kind {
	case KindSingle:
		c.Password, c.Username = g.secret(true), g.secret(true)
		if g.r.IntN(3) == 0 {
			c.Network, c.Addr = "unix", "/run/redis "+g.token()+".sock"
			if g.r.IntN(4) == 0 {
				c.Addr += "\xff" // only a URL can name it
			}
			if g.r.IntN(2) == 0 && !strings.Contains(c.Addr+c.Username+c.Password, "\xff") &&
				!strings.Contains(c.Addr+c.Username+c.Password, "\xc3") {
				c.TLS = g.tls(true)
			}
		} else {
			c.Network, c.Addr = "tcp", g.hostPort()
			c.TLS = g.tls(false)
		}
		c.DB = g.num(0, math.MaxInt32)
	case KindCluster:
		c.Addrs, c.Password, c.Username = g.addrs(), g.secret(false), g.secret(false)
		c.ReadOnly, c.RouteByLatency, c.RouteRandomly = g.r.IntN(2) == 0, g.r.IntN(2) == 0, g.r.IntN(2) == 0
		c.TLS = g.tls(false)
	case KindSentinel:
		c.Addrs, c.Master = g.addrs(), "master-"+g.token()
		c.Password, c.Username = g.secret(false), g.secret(false)
		c.SentinelPassword, c.SentinelUsername = g.secret(false), g.secret(false)
		c.DB = g.num(0, 15)
		c.TLS = g.tls(false)
	}
	if g.r.IntN(2) == 0 {
		c.ClientName = "worker-" + g.token()
	}
	c.DialTimeout, c.ReadTimeout, c.WriteTimeout = g.dur(), g.dur(), g.dur()
	c.PoolSize, c.MinIdleConns, c.MaxRetries = g.num(1, math.MaxInt32), g.num(0, 100), g.num(0, 10)
	c.Protocol = []int{0, 2, 3}[g.r.IntN(3)]
	c.DialRetries = g.num(-1, 10)
	c.MinRetryBackoff, c.MaxRetryBackoff, c.PoolTimeout = g.dur(), g.dur(), g.dur()
	c.PoolFIFO = g.r.IntN(2) == 0
	c.MaxIdleConns, c.MaxActiveConns, c.MaxConcurrentDials = g.num(0, 1000), g.num(0, 1000), g.num(0, 1000)
	c.ConnMaxIdleTime, c.ConnMaxLifetime = g.dur(), g.dur()
	if c.ConnMaxLifetime > 0 && g.r.IntN(2) == 0 {
		c.ConnMaxLifetimeJitter = time.Duration(1 + g.r.Int64N(int64(c.ConnMaxLifetime)))
	}
	c.PipelinePoolSize = g.num(-1, 100)
	c.PipelineReadBufferSize, c.PipelineWriteBufferSize = g.num(0, maxBuffer), g.num(0, maxBuffer)
	return c
}

// For Configs of every kind and every field, StoredJSON is what ParseConfig reads back to the same
// Config, and every other way out of the Config (String, fmt, slog, MarshalJSON) stays masked.
func TestStoredJSONRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	kinds := map[string]int{}
	for i := range 1000 {
		g := &genConfig{r: r}
		cfg := g.config()
		b, err := cfg.StoredJSON()
		if err != nil {
			t.Fatalf("config %d: StoredJSON: %v (kind %v)", i, err, cfg.Kind)
		}
		got, err := ParseConfig(b)
		if err != nil {
			t.Fatalf("config %d: ParseConfig(StoredJSON()): %v", i, err)
		}
		if !reflect.DeepEqual(got, cfg) {
			t.Fatalf("config %d: round trip changed field %s", i, firstDiff(cfg, got))
		}
		if again, err := got.StoredJSON(); err != nil || string(again) != string(b) {
			t.Fatalf("config %d: StoredJSON of the parsed config differs (%v)", i, err)
		}
		form := "json"
		if strings.Contains(string(b), `"url"`) {
			form = "url"
		}
		kinds[cfg.Kind.String()+"/"+form+"/tls="+strconv.FormatBool(cfg.TLS != nil)]++

		for _, s := range shown(t, got) {
			for _, tok := range g.tokens {
				if strings.Contains(s, tok) && secretToken(cfg, tok) {
					t.Fatalf("config %d: a secret shows in %s", i, s)
				}
			}
		}
	}
	for _, k := range []string{"single/json/tls=true", "single/json/tls=false", "single/url/tls=true",
		"single/url/tls=false", "cluster/json/tls=true", "sentinel/json/tls=true"} {
		if kinds[k] == 0 {
			t.Errorf("no %s config generated (%v)", k, kinds)
		}
	}
}

// secretToken reports whether tok belongs to one of cfg's secrets (not its file names or master).
func secretToken(cfg *Config, tok string) bool {
	for _, s := range []string{cfg.Username, cfg.Password, cfg.SentinelUsername, cfg.SentinelPassword} {
		if strings.Contains(s, tok) {
			return true
		}
	}
	return false
}

// Every accepted JSON config round-trips through StoredJSON too, whatever form it was written in.
func TestStoredJSONOfParsedForms(t *testing.T) {
	for _, j := range []string{
		`{}`, `{"db": 15}`, `{"port": 6380}`, `{"host": "h", "port": 1, "password": "p", "username": "u"}`,
		`{"url": "rediss://u:p%FF@h:6380/2?pool_size=3&dial_timeout=2"}`,
		`{"url": "unix://:pw@/run/r%FF.sock?db=3"}`,
		`{"unix_socket_path": "/run/r.sock", "ssl": true, "ssl_server_name": "cache"}`,
		`{"host": "h", "ssl": true, "ssl_cert_reqs": "none", "ssl_check_hostname": false}`,
		`{"host": "h", "ssl": true, "ssl_ca_path": "/etc/ssl/certs", "ssl_min_version": "TLSv1_3"}`,
		`{"socket_timeout": 0.5, "socket_connect_timeout": 1e-9, "max_connections": 20, "max_retries": -1}`,
		`{"cluster": ["a:1", "b:2"], "read_only": true, "route_randomly": true, "password": "x"}`,
		`{"sentinel": {"master": "m", "addrs": ["s:1"], "username": "su", "password": "sp"}, "db": 2}`,
		`{"idle_timeout": "90s", "max_conn_age": 3600, "conn_max_lifetime_jitter": "1m", "pipeline_pool_size": -1}`,
	} {
		cfg, err := ParseConfig([]byte(j))
		if err != nil {
			t.Fatalf("ParseConfig(%s): %v", j, err)
		}
		b, err := cfg.StoredJSON()
		if err != nil {
			t.Fatalf("%s: StoredJSON: %v", j, err)
		}
		got, err := ParseConfig(b)
		if err != nil || !reflect.DeepEqual(got, cfg) {
			t.Fatalf("%s: stored as %s, which parses to %v, %v", j, b, got, err)
		}
	}
}

// A Config changed by hand into something ParseConfig would refuse, or that its JSON cannot hold, is
// refused by name, never stored changed; a default written as its zero value is stored as the default.
func TestStoredJSONRefusesWhatCannotBeStored(t *testing.T) {
	base := func() *Config {
		c, err := ParseConfig([]byte(`{"host": "h", "port": 1, "password": "s3cret-pw"}`))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		edit  func(c *Config)
		field string // the JSON field named, or "Config.X" in the message
	}{
		{"negative read timeout", func(c *Config) { c.ReadTimeout = -1 }, "read_timeout"},
		{"timeout over a day", func(c *Config) { c.DialTimeout = 25 * time.Hour }, "dial_timeout"},
		{"max retries -2", func(c *Config) { c.MaxRetries = -2 }, "max_retries"},
		{"pool size -1", func(c *Config) { c.PoolSize = -1 }, "pool_size"},
		{"protocol 4", func(c *Config) { c.Protocol = 4 }, "protocol"},
		{"bad host", func(c *Config) { c.Addr = "user:s3cret-pw@h:1" }, "addr"},
		{"cluster read flag on single", func(c *Config) { c.ReadOnly = true }, "read_only"},
		{"addrs on single", func(c *Config) { c.Addrs = []string{"a:1"} }, "Config.Addrs"},
		{"master on single", func(c *Config) { c.Master = "m" }, "Config.Master"},
		{"sentinel password on single", func(c *Config) { c.SentinelPassword = "s3cret-pw" }, "Config.SentinelPassword"},
		{"cluster with an addr", func(c *Config) { c.Kind, c.Addrs = KindCluster, []string{"a:1"} }, "Config.Network"},
		{"cluster without addrs", func(c *Config) { c.Kind, c.Network, c.Addr = KindCluster, "", "" }, "cluster"},
		{"cluster with a db", func(c *Config) { c.Kind, c.Network, c.Addr, c.Addrs, c.DB = KindCluster, "", "", []string{"a:1"}, 1 }, "db"},
		{"sentinel without master", func(c *Config) { c.Kind, c.Network, c.Addr, c.Addrs = KindSentinel, "", "", []string{"a:1"} }, "sentinel"},
		{"unknown kind", func(c *Config) { c.Kind = 7 }, "Config.Kind"},
		{"invalid UTF-8 client name", func(c *Config) { c.ClientName = "a\xff" }, "client_name"},
		{"key without certificate", func(c *Config) { c.TLS = &TLSConfig{KeyFile: "k.pem"} }, "ssl_keyfile"},
		{"TLS 1.1", func(c *Config) { c.TLS = &TLSConfig{MinVersion: tls.VersionTLS11} }, "ssl_min_version"},
		{"unix TLS without a name", func(c *Config) { c.Network, c.Addr, c.TLS = "unix", "/r.sock", &TLSConfig{} }, "ssl"},
		{"jitter beyond lifetime", func(c *Config) { c.ConnMaxLifetimeJitter = time.Second }, "conn_max_lifetime_jitter"},
		{"unix TLS via url", func(c *Config) {
			c.Network, c.Addr, c.Password, c.TLS = "unix", "/r.sock", "\xff", &TLSConfig{ServerName: "h"}
		}, "Config.TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(c)
			b, err := c.StoredJSON()
			var ce *ConfigError
			if err == nil || !errors.As(err, &ce) || !errors.Is(err, ErrBadConfig) {
				t.Fatalf("StoredJSON = %s, %v; want a *ConfigError wrapping ErrBadConfig", b, err)
			}
			if ce.Field != tc.field && !strings.Contains(err.Error(), tc.field+" ") {
				t.Fatalf("error %q does not name %s", err, tc.field)
			}
			if strings.Contains(fmt.Sprintf("%v %+v", err, err), "s3cret-pw") {
				t.Fatalf("error %q shows the password", err)
			}
			if _, err := c.NewClient(); err == nil {
				t.Fatalf("NewClient made a client from a config StoredJSON refuses")
			}
		})
	}
	var nilCfg *Config
	if _, err := nilCfg.StoredJSON(); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("nil StoredJSON: %v; want ErrBadConfig", err)
	}

	// Zero values that mean a default are stored as the default, as go-redis reads them.
	for _, tc := range []struct {
		cfg  Config
		want Config
	}{
		{Config{}, Config{Network: "tcp", Addr: "localhost:6379"}},
		{Config{Addr: "h:1"}, Config{Network: "tcp", Addr: "h:1"}},
		{Config{Addr: "/run/r.sock"}, Config{Network: "unix", Addr: "/run/r.sock"}},
		{Config{Addr: "h:1", MaxRetries: -1}, Config{Network: "tcp", Addr: "h:1"}},
		{Config{Addr: "h:1", TLS: &TLSConfig{SkipVerify: true, NoHostnameCheck: true}},
			Config{Network: "tcp", Addr: "h:1", TLS: &TLSConfig{SkipVerify: true}}},
	} {
		b, err := tc.cfg.StoredJSON()
		if err != nil {
			t.Fatalf("StoredJSON(%+v): %v", tc.cfg, err)
		}
		got, err := ParseConfig(b)
		if err != nil || !reflect.DeepEqual(*got, tc.want) {
			t.Fatalf("%+v stored as %s, parsed to %+v, %v; want %+v", tc.cfg, b, got, err, tc.want)
		}
	}
}

// SetConfig takes a Config read from the registry, changed, and written back, secrets included, as
// *Config or Config; the stored JSON parses to the changed config and the registry switches to it.
func TestSetConfigWritesBackAConfig(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if err := f.reg.SetConfig(ctx, "c", `{"host": "127.0.0.1", "port": 1, "password": "s3cret"}`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Client(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	for i, write := range []func(c *Config) any{
		func(c *Config) any { return c },
		func(c *Config) any { return *c },
	} {
		cfg := *f.reg.Config("c")
		cfg.DB, cfg.PoolSize, cfg.ReadTimeout = i+1, 3, 1500*time.Millisecond
		if err := f.reg.SetConfig(ctx, "c", write(&cfg)); err != nil {
			t.Fatalf("SetConfig(%T): %v", write(&cfg), err)
		}
		raw, err := f.cfgServer.Get("config:redis:c")
		if err != nil {
			t.Fatal(err)
		}
		stored, err := ParseConfig([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(stored, &cfg) || stored.Password != "s3cret" {
			t.Fatalf("stored config differs in %s", firstDiff(&cfg, stored))
		}
		if got := f.reg.Config("c"); !reflect.DeepEqual(got, &cfg) {
			t.Fatalf("registry serves a config differing in %s", firstDiff(&cfg, got))
		}
	}
	bad := *f.reg.Config("c")
	bad.ReadTimeout = -1
	before, _ := f.cfgServer.Get("config:redis:c")
	err := f.reg.SetConfig(ctx, "c", &bad)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "config:redis:c" || ce.Field != "read_timeout" {
		t.Fatalf("SetConfig(bad) = %v; want a *ConfigError for key config:redis:c, field read_timeout", err)
	}
	if after, _ := f.cfgServer.Get("config:redis:c"); after != before {
		t.Fatalf("a refused config was written")
	}
	if err := f.reg.SetConfig(ctx, "c", (*Config)(nil)); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("SetConfig(nil *Config) = %v; want ErrBadConfig", err)
	}
}

// Registry.Config returns a copy: changing it, its Addrs or its TLS changes nothing the registry holds.
func TestRegistryConfigIsACopy(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.setRaw(t, "c", `{"cluster": ["a:1", "b:2"], "ssl": true}`)
	if err := f.reg.Refresh(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	c := f.reg.Config("c")
	c.Addrs[0], c.TLS.ServerName, c.Password = "changed:1", "changed", "changed"
	if got := f.reg.Config("c"); got.Addrs[0] != "a:1" || got.TLS.ServerName != "" || got.Password != "" {
		t.Fatalf("changing Config's result changed the registry's: %v", got)
	}
}
