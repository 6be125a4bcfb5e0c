package conn

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// The book's tests store configs such as {"db": 15}, which redis.Redis(**config) connects to
// localhost:6379: every field that leaves the server out gets redis-py's defaults.
func TestParseDefaultsAreRedisPys(t *testing.T) {
	for _, tc := range []struct{ json, addr string }{
		{`{"db": 15}`, "localhost:6379"},
		{`{}`, "localhost:6379"},
		{`{"password": "pw"}`, "localhost:6379"},
		{`{"ssl": true}`, "localhost:6379"},
		{`{"socket_timeout": 1, "decode_responses": true}`, "localhost:6379"},
		{`{"host": null, "port": null}`, "localhost:6379"},
		{`{"port": 6380}`, "localhost:6380"},
		{`{"host": "cache"}`, "cache:6379"},
	} {
		c, err := ParseConfig([]byte(tc.json))
		if err != nil {
			t.Fatalf("ParseConfig(%s): %v", tc.json, err)
		}
		if c.Kind != KindSingle || c.Network != "tcp" || c.Addr != tc.addr {
			t.Fatalf("ParseConfig(%s) = %v; want a single server at %s", tc.json, c, tc.addr)
		}
	}
	c, _ := ParseConfig([]byte(`{"db": 15}`))
	if c.DB != 15 {
		t.Fatalf(`{"db": 15} gives db %d`, c.DB)
	}
}

// Property: a config naming no server means the same as that config plus "host": "localhost" and
// "port": 6379, whichever other fields it holds; with only one of them, the other is the default.
func TestParseDefaultsProperty(t *testing.T) {
	others := map[string]any{
		"db": 3, "password": "pw", "username": "u", "client_name": "w", "socket_timeout": 0.5,
		"socket_connect_timeout": 2, "max_connections": 5, "min_idle_conns": 1, "max_retries": 1,
		"protocol": 2, "dial_retries": 2, "pool_timeout": "1s", "decode_responses": true, "encoding": "utf-8",
		"ssl": true, "health_check_interval": 30, "retry_on_timeout": false, "conn_max_idle_time": 60,
	}
	keys := make([]string, 0, len(others))
	for k := range others {
		keys = append(keys, k)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		cfg := map[string]any{}
		for _, k := range keys {
			if r.IntN(3) == 0 {
				cfg[k] = others[k]
			}
		}
		parse := func(m map[string]any) *Config {
			b, _ := json.Marshal(m)
			c, err := ParseConfig(b)
			if err != nil {
				t.Fatalf("ParseConfig(%s): %v", b, err)
			}
			return c
		}
		with := func(extra map[string]any) map[string]any {
			m := map[string]any{}
			for k, v := range cfg {
				m[k] = v
			}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
		bare := parse(cfg)
		explicit := parse(with(map[string]any{"host": "localhost", "port": 6379}))
		if bare.canonical() != explicit.canonical() || bare.Addr != "localhost:6379" {
			t.Fatalf("%v: %s; want the same as with localhost:6379 (%s)", cfg, bare.canonical(), explicit.canonical())
		}
		if c := parse(with(map[string]any{"port": 7000})); c.Addr != "localhost:7000" {
			t.Fatalf("port only: addr %s; want localhost:7000", c.Addr)
		}
		if c := parse(with(map[string]any{"host": "cache"})); c.Addr != "cache:6379" {
			t.Fatalf("host only: addr %s; want cache:6379", c.Addr)
		}
		if !strings.Contains(bare.String(), `"addr":"localhost:6379"`) {
			t.Fatalf("String() = %s; want the default address shown", bare)
		}
	}
}
