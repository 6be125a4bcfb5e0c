package conn

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseConfigValid(t *testing.T) {
	tests := []struct {
		name string
		json string
		want Config
	}{
		{"book form", `{"host": "10.0.0.5", "port": 6380, "db": 2}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "10.0.0.5:6380", DB: 2}},
		{"port only means localhost", `{"port": 7000}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "localhost:7000"}},
		{"host only means 6379", `{"host": "cache"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "cache:6379"}},
		{"python None is absent", `{"host": "h", "password": null, "db": null}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379"}},
		{"python-only options ignored", `{"host": "h", "decode_responses": true, "encoding": "utf-8"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379"}},
		{"credentials", `{"host": "h", "username": "app", "password": "pw"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379", Username: "app", Password: "pw"}},
		{"socket timeout in seconds", `{"host": "h", "socket_timeout": 0.25, "socket_connect_timeout": 2}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379", ReadTimeout: 250 * time.Millisecond,
				WriteTimeout: 250 * time.Millisecond, DialTimeout: 2 * time.Second}},
		{"go durations", `{"addr": "h:1", "read_timeout": "150ms", "write_timeout": 0.5, "dial_timeout": "1s"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:1", ReadTimeout: 150 * time.Millisecond,
				WriteTimeout: 500 * time.Millisecond, DialTimeout: time.Second}},
		{"unix socket", `{"unix_socket_path": "/run/redis.sock", "db": 1}`,
			Config{Kind: KindSingle, Network: "unix", Addr: "/run/redis.sock", DB: 1}},
		{"addr with network unix", `{"addr": "/tmp/r.sock", "network": "unix"}`,
			Config{Kind: KindSingle, Network: "unix", Addr: "/tmp/r.sock"}},
		{"url", `{"url": "redis://app:pw@h:6380/3"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6380", DB: 3, Username: "app", Password: "pw"}},
		{"rediss url", `{"url": "rediss://h:6380"}`, // ServerName empty: the host dialed, as go-redis sets it
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6380", TLS: &TLSConfig{}}},
		{"pool", `{"addr": "h:1", "max_connections": 20, "min_idle_conns": 2, "max_retries": 1, "protocol": 2}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:1", PoolSize: 20, MinIdleConns: 2, MaxRetries: 1, Protocol: 2}},
		{"ssl", `{"host": "h", "ssl": true, "ssl_ca_certs": "ca.pem", "ssl_cert_reqs": "required"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379", TLS: &TLSConfig{CAFile: "ca.pem"}}},
		{"ssl client cert", `{"host": "h", "ssl": true, "ssl_certfile": "c.pem", "ssl_keyfile": "k.pem"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379", TLS: &TLSConfig{CertFile: "c.pem", KeyFile: "k.pem"}}},
		{"ssl none is insecure", `{"host": "h", "ssl": true, "ssl_cert_reqs": "none"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379", TLS: &TLSConfig{SkipVerify: true}}},
		{"ssl no hostname check", `{"host": "h", "ssl": true, "ssl_check_hostname": false}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379", TLS: &TLSConfig{NoHostnameCheck: true}}},
		{"cluster", `{"cluster": ["a:7000", "b:7001"], "password": "pw", "read_only": true}`,
			Config{Kind: KindCluster, Addrs: []string{"a:7000", "b:7001"}, Password: "pw", ReadOnly: true}},
		{"sentinel", `{"sentinel": {"master": "mymaster", "addrs": ["s:26379"], "password": "spw"}, "db": 1}`,
			Config{Kind: KindSentinel, Master: "mymaster", Addrs: []string{"s:26379"}, SentinelPassword: "spw", DB: 1}},
		{"min_idle_conns zero is go-redis's default", `{"addr": "h:1", "min_idle_conns": 0}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:1"}},
		{"url keeps client_name it lacks", `{"url": "redis://h:1/0", "client_name": "worker"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:1", ClientName: "worker"}},
		{"url with client_name", `{"url": "redis://h:1/0?client_name=worker"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:1", ClientName: "worker"}},
		{"bare IPv6 host", `{"host": "::1", "port": 7000}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "[::1]:7000"}},
		{"IPv6 addr", `{"addr": "[::1]:7000"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "[::1]:7000"}},
		{"python-only keys type-checked and ignored", `{"host": "h", "decode_responses": true, "encoding": "utf-8",
			"encoding_errors": "strict", "health_check_interval": 0, "socket_keepalive": true, "retry_on_timeout": false,
			"single_connection_client": true, "lib_name": "redis-py", "lib_version": "5.0.1"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379"}},
		{"ssl_ca_path and ssl_min_version", `{"host": "h", "ssl": true, "ssl_ca_path": "/etc/ssl/certs", "ssl_min_version": 772}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379", TLS: &TLSConfig{CAPath: "/etc/ssl/certs", MinVersion: tls.VersionTLS13}}},
		{"ssl_min_version by name", `{"host": "h", "ssl": true, "ssl_min_version": "TLSv1_2"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379", TLS: &TLSConfig{MinVersion: tls.VersionTLS12}}},
		{"ssl_password accepted, not kept", `{"host": "h", "ssl": true, "ssl_certfile": "c.pem", "ssl_keyfile": "k.pem", "ssl_password": "kp"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:6379", TLS: &TLSConfig{CertFile: "c.pem", KeyFile: "k.pem"}}},
		{"largest integer", `{"addr": "h:1", "max_retries": 2147483647}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:1", MaxRetries: math.MaxInt32}},
		{"a day is the longest duration", `{"addr": "h:1", "read_timeout": 86400, "dial_timeout": "24h"}`,
			Config{Kind: KindSingle, Network: "tcp", Addr: "h:1", ReadTimeout: 24 * time.Hour, DialTimeout: 24 * time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tc.json))
			if err != nil {
				t.Fatalf("ParseConfig(%s): %v", tc.json, err)
			}
			if g, w := got.canonical(), tc.want.canonical(); g != w {
				t.Fatalf("ParseConfig(%s)\n got %s\nwant %s", tc.json, g, w)
			}
		})
	}
}

func TestParseConfigEquivalentFormsCompareEqual(t *testing.T) {
	forms := []string{
		`{"host": "h", "port": 6380, "db": 2}`,
		`{"addr": "h:6380", "db": 2}`,
		`{"url": "redis://h:6380/2"}`,
		"{ \"db\" : 2 ,\n \"port\": 6380, \"host\":\"h\" }",
	}
	var first string
	for _, f := range forms {
		c, err := ParseConfig([]byte(f))
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = c.canonical()
		} else if c.canonical() != first {
			t.Fatalf("%s normalizes to %s; want %s", f, c.canonical(), first)
		}
	}
}

func TestParseConfigInvalid(t *testing.T) {
	tests := []struct {
		name, json, field string
	}{
		{"not json", `{"host": `, ""},
		{"not an object", `["h", 1]`, ""},
		{"null", `null`, ""},
		{"unknown field", `{"host": "h", "hots": "x"}`, "hots"},
		{"port is a string", `{"host": "h", "port": "6379"}`, "port"},
		{"port out of range", `{"port": 70000}`, "port"},
		{"port zero", `{"port": 0}`, "port"},
		{"port fractional", `{"port": 6379.5}`, "port"},
		{"negative db", `{"host": "h", "db": -1}`, "db"},
		{"db is bool", `{"host": "h", "db": true}`, "db"},
		{"empty host", `{"host": ""}`, "host"},
		{"addr without port", `{"addr": "h"}`, "addr"},
		{"addr bad port", `{"addr": "h:http"}`, "addr"},
		{"host and addr", `{"host": "h", "addr": "h:1"}`, "addr"},
		{"url and host", `{"url": "redis://h", "host": "h"}`, "url"},
		{"url and password", `{"url": "redis://h", "password": "x"}`, "url"},
		{"bad url scheme", `{"url": "http://h"}`, "url"},
		{"unix and port", `{"unix_socket_path": "/s", "port": 1}`, "unix_socket_path"},
		{"network without addr", `{"host": "h", "network": "unix"}`, "network"},
		{"bad network", `{"addr": "h:1", "network": "udp"}`, "network"},
		{"cluster and sentinel", `{"cluster": ["a:1"], "sentinel": {"master": "m", "addrs": ["s:1"]}}`, "cluster"},
		{"cluster and host", `{"cluster": ["a:1"], "host": "h"}`, "cluster"},
		{"cluster db", `{"cluster": ["a:1"], "db": 3}`, "db"},
		{"cluster empty", `{"cluster": []}`, "cluster"},
		{"cluster not a list", `{"cluster": "a:1"}`, "cluster"},
		{"cluster bad addr", `{"cluster": ["a"]}`, "cluster"},
		{"sentinel without master", `{"sentinel": {"addrs": ["s:1"]}}`, "sentinel"},
		{"sentinel without addrs", `{"sentinel": {"master": "m"}}`, "sentinel"},
		{"sentinel unknown key", `{"sentinel": {"master": "m", "addrs": ["s:1"], "x": 1}}`, "sentinel"},
		{"read_only without cluster", `{"host": "h", "read_only": true}`, "read_only"},
		{"negative timeout", `{"host": "h", "socket_timeout": -1}`, "socket_timeout"},
		{"zero timeout", `{"host": "h", "read_timeout": 0}`, "read_timeout"},
		{"bad duration", `{"host": "h", "read_timeout": "soon"}`, "read_timeout"},
		{"socket_timeout and read_timeout", `{"host": "h", "socket_timeout": 1, "read_timeout": 1}`, "socket_timeout"},
		{"pool zero", `{"host": "h", "max_connections": 0}`, "max_connections"},
		{"pool_size and max_connections", `{"host": "h", "max_connections": 2, "pool_size": 2}`, "max_connections"},
		{"negative retries", `{"host": "h", "max_retries": -2}`, "max_retries"},
		{"protocol 4", `{"host": "h", "protocol": 4}`, "protocol"},
		{"ssl option without ssl", `{"host": "h", "ssl_ca_certs": "ca.pem"}`, "ssl_ca_certs"},
		{"bad cert reqs", `{"host": "h", "ssl": true, "ssl_cert_reqs": "maybe"}`, "ssl_cert_reqs"},
		{"cert without key", `{"host": "h", "ssl": true, "ssl_certfile": "c.pem"}`, "ssl_certfile"},
		{"ssl over unix", `{"unix_socket_path": "/s", "ssl": true}`, "ssl"},
		{"password not a string", `{"host": "h", "password": 123}`, "password"},

		// wrong types
		{"host a number", `{"host": 5}`, "host"},
		{"username a number", `{"host": "h", "username": 5}`, "username"},
		{"client_name a bool", `{"host": "h", "client_name": true}`, "client_name"},
		{"unix_socket_path a number", `{"unix_socket_path": 5}`, "unix_socket_path"},
		{"url a number", `{"url": 5}`, "url"},
		{"ssl a string", `{"host": "h", "ssl": "yes"}`, "ssl"},
		{"ssl_check_hostname a string", `{"host": "h", "ssl": true, "ssl_check_hostname": "no"}`, "ssl_check_hostname"},
		{"read_only a number", `{"cluster": ["a:1"], "read_only": 1}`, "read_only"},
		{"empty unix_socket_path", `{"unix_socket_path": ""}`, "unix_socket_path"},

		// hosts
		{"host with port", `{"host": "h:6379"}`, "host"},
		{"host blank", `{"host": "  "}`, "host"},
		{"host with space", `{"host": "h h"}`, "host"},
		{"host bracketed", `{"host": "[::1]"}`, "host"},
		{"host with control character", `{"host": "h\u0000"}`, "host"},
		{"addr host with space", `{"addr": " h:1"}`, "addr"},
		{"cluster addr host with space", `{"cluster": ["a b:1"]}`, "cluster"},

		// timeouts and counts
		{"bad write_timeout", `{"host": "h", "write_timeout": "x"}`, "write_timeout"},
		{"bad dial_timeout", `{"host": "h", "dial_timeout": -1}`, "dial_timeout"},
		{"bad socket_connect_timeout", `{"host": "h", "socket_connect_timeout": 0}`, "socket_connect_timeout"},
		{"socket_connect_timeout and dial_timeout", `{"host": "h", "socket_connect_timeout": 1, "dial_timeout": 1}`, "socket_connect_timeout"},
		{"duration over a day in seconds", `{"host": "h", "socket_timeout": 86401}`, "socket_timeout"},
		{"duration over a day as a string", `{"host": "h", "read_timeout": "25h"}`, "read_timeout"},
		{"integer over 2^31", `{"host": "h", "max_retries": 2147483648}`, "max_retries"},
		{"db over 2^31", `{"host": "h", "db": 1e10}`, "db"},
		{"pool_size zero", `{"host": "h", "pool_size": 0}`, "pool_size"},
		{"min_idle_conns negative", `{"host": "h", "min_idle_conns": -1}`, "min_idle_conns"},
		{"min_idle_conns a string", `{"host": "h", "min_idle_conns": "2"}`, "min_idle_conns"},

		// combinations
		{"route_by_latency without cluster", `{"host": "h", "route_by_latency": true}`, "route_by_latency"},
		{"route_randomly without cluster", `{"host": "h", "route_randomly": true}`, "route_randomly"},
		{"sentinel not an object", `{"sentinel": "s:1"}`, "sentinel"},
		{"sentinel bad addrs entry", `{"sentinel": {"master": "m", "addrs": ["s"]}}`, "sentinel"},
		{"url and port", `{"url": "redis://h", "port": 1}`, "url"},
		{"url and addr", `{"url": "redis://h", "addr": "h:1"}`, "url"},
		{"url and unix_socket_path", `{"url": "redis://h", "unix_socket_path": "/s"}`, "url"},
		{"url and db", `{"url": "redis://h", "db": 1}`, "url"},
		{"url and username", `{"url": "redis://h", "username": "u"}`, "url"},
		{"url and ssl", `{"url": "redis://h", "ssl": true}`, "url"},
		{"url and network", `{"url": "redis://h", "network": "tcp"}`, "url"},
		{"url client_name and client_name", `{"url": "redis://h?client_name=a", "client_name": "b"}`, "client_name"},
		{"url read_timeout and socket_timeout", `{"url": "redis://h?read_timeout=1s", "socket_timeout": 2}`, "socket_timeout"},
		{"url pool_size and max_connections", `{"url": "redis://h?pool_size=3", "max_connections": 2}`, "max_connections"},
		{"addr and port", `{"addr": "h:1", "port": 1}`, "addr"},
		{"addr and unix_socket_path", `{"addr": "h:1", "unix_socket_path": "/s"}`, "addr"},
		{"unix_socket_path and host", `{"unix_socket_path": "/s", "host": "h"}`, "unix_socket_path"},
		{"sentinel and host", `{"sentinel": {"master": "m", "addrs": ["s:1"]}, "host": "h"}`, "sentinel"},
		{"key without cert", `{"host": "h", "ssl": true, "ssl_keyfile": "k.pem"}`, "ssl_keyfile"},

		// redis-py keys accepted only with the right type
		{"decode_responses not a bool", `{"host": "h", "decode_responses": "banana"}`, "decode_responses"},
		{"socket_keepalive an object", `{"host": "h", "socket_keepalive": {"x": 1}}`, "socket_keepalive"},
		{"health_check_interval negative", `{"host": "h", "health_check_interval": -5}`, "health_check_interval"},
		{"encoding a number", `{"host": "h", "encoding": 8}`, "encoding"},
		{"encoding_errors empty", `{"host": "h", "encoding_errors": ""}`, "encoding_errors"},
		{"retry_on_timeout a string", `{"host": "h", "retry_on_timeout": "yes"}`, "retry_on_timeout"},
		{"single_connection_client a number", `{"host": "h", "single_connection_client": 1}`, "single_connection_client"},
		{"lib_name a number", `{"host": "h", "lib_name": 3}`, "lib_name"},
		{"ssl_password without ssl", `{"host": "h", "ssl_password": "p"}`, "ssl_password"},
		{"ssl_password without a key", `{"host": "h", "ssl": true, "ssl_password": "p"}`, "ssl_password"},
		{"ssl_password a number", `{"host": "h", "ssl": true, "ssl_password": 5}`, "ssl_password"},
		{"ssl_ca_path empty", `{"host": "h", "ssl": true, "ssl_ca_path": ""}`, "ssl_ca_path"},
		{"ssl_ca_path without ssl", `{"host": "h", "ssl_ca_path": "/d"}`, "ssl_ca_path"},
		{"ssl_min_version TLS 1.1 by name", `{"host": "h", "ssl": true, "ssl_min_version": "TLSv1_1"}`, "ssl_min_version"},
		{"ssl_min_version TLS 1.1 by number", `{"host": "h", "ssl": true, "ssl_min_version": 770}`, "ssl_min_version"},
		{"ssl_min_version unknown", `{"host": "h", "ssl": true, "ssl_min_version": "banana"}`, "ssl_min_version"},
		{"ssl_min_version a bool", `{"host": "h", "ssl": true, "ssl_min_version": true}`, "ssl_min_version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.json))
			if err == nil {
				t.Fatalf("ParseConfig(%s) = %v; want an error", tc.json, c)
			}
			if !errors.Is(err, ErrBadConfig) {
				t.Fatalf("ParseConfig(%s) error %v does not wrap ErrBadConfig", tc.json, err)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseConfig(%s) error %T is not a *ConfigError", tc.json, err)
			}
			if ce.Field != tc.field {
				t.Fatalf("ParseConfig(%s) error %q names field %q; want %q", tc.json, err, ce.Field, tc.field)
			}
			if tc.field != "" && !strings.Contains(err.Error(), `"`+tc.field+`"`) {
				t.Fatalf("error %q does not name field %q", err, tc.field)
			}
		})
	}
}

// shown renders a config every way a program might print, log or encode it.
func shown(t *testing.T, c *Config) []string {
	t.Helper()
	var out []string
	for _, v := range []any{c, *c, struct{ C Config }{*c}, []Config{*c}} {
		out = append(out, fmt.Sprint(v), fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v),
			fmt.Sprintf("%s", v), fmt.Sprintf("%q", v))
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		out = append(out, string(b))
		for _, h := range []func(*bytes.Buffer) slog.Handler{
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, noTime) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, noTime) },
		} {
			var buf bytes.Buffer
			slog.New(h(&buf)).Info("config", "cfg", v)
			out = append(out, buf.String())
		}
	}
	return append(out, c.String())
}

func TestSecretsNeverShown(t *testing.T) {
	const secret = "hunter2-Zq9"
	valid := []string{
		`{"host": "h", "password": "` + secret + `"}`,
		`{"url": "redis://user:` + secret + `@h:6379/0"}`,
		`{"sentinel": {"master": "m", "addrs": ["s:1"], "password": "` + secret + `"}, "password": "` + secret + `"}`,
		`{"host": "h", "ssl": true, "ssl_certfile": "c.pem", "ssl_keyfile": "k.pem", "ssl_password": "` + secret + `"}`,
		`{"password": "` + secret + `"}`,             // redis-py's localhost:6379
		`{"url": "redis://` + secret + `@h:6379/0"}`, // a token in the user part
	}
	for _, j := range valid {
		c, err := ParseConfig([]byte(j))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range shown(t, c) {
			if strings.Contains(s, secret) {
				t.Fatalf("config %s shown with its password: %s", j, s)
			}
			if !strings.Contains(s, "kind") {
				t.Fatalf("config %s not shown as String: %s", j, s)
			}
		}
	}
	invalid := []string{
		`{"url": "redis://user:` + secret + `@h:notaport/0"}`,
		`{"url": "http://user:` + secret + `@h/0"}`,
		`{"url": "redis://user:` + secret + `@h:6379/notadb"}`,
		`{"url": "redis://user:` + secret + `@h:6379/0", "db": 1}`,
		`{"url": "redis://us%65r:hunter2%2DZq9@h:6379/x"}`,
		`{"password": "` + secret + `", "port": "x"}`,
		`{"password": ["` + secret + `"], "host": "h"}`,
		`{"password": "` + secret + `", "addr": "` + secret + `"}`,
		`{"host": "h", "ssl": true, "ssl_password": "` + secret + `"}`,
		`{"host": "h", "ssl_password": "` + secret + `"}`,
		`{"sentinel": {"master": "m", "addrs": ["` + secret + `"], "password": "` + secret + `"}}`,
	}
	for _, j := range invalid {
		_, err := ParseConfig([]byte(j))
		if err == nil {
			t.Fatalf("ParseConfig(%s) succeeded", j)
		}
		if !errors.Is(err, ErrBadConfig) {
			t.Fatalf("ParseConfig(%s) = %v; want ErrBadConfig", j, err)
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), secret) {
				t.Fatalf("error chain shows the password: %v", e)
			}
		}
	}
}

// The comparison key must see passwords although every printed form masks them: a changed password
// is a changed config, and needs a new client.
func TestCanonicalSeesPasswords(t *testing.T) {
	for _, pair := range [][2]string{
		{`{"host": "h", "password": "a"}`, `{"host": "h", "password": "b"}`},
		{`{"url": "redis://:a@h"}`, `{"url": "redis://:b@h"}`},
		{`{"sentinel": {"master": "m", "addrs": ["s:1"], "password": "a"}}`, `{"sentinel": {"master": "m", "addrs": ["s:1"], "password": "b"}}`},
	} {
		a, err := ParseConfig([]byte(pair[0]))
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseConfig([]byte(pair[1]))
		if err != nil {
			t.Fatal(err)
		}
		if a.canonical() == b.canonical() {
			t.Fatalf("%s and %s compare equal; a password change must make a new client", pair[0], pair[1])
		}
		if a.String() != b.String() {
			t.Fatalf("String differs by password: %s vs %s", a, b)
		}
	}
}
