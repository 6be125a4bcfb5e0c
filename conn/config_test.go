package conn

import (
	"errors"
	"fmt"
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
			Config{Kind: Single, Network: "tcp", Addr: "10.0.0.5:6380", DB: 2}},
		{"port only means localhost", `{"port": 7000}`,
			Config{Kind: Single, Network: "tcp", Addr: "localhost:7000"}},
		{"host only means 6379", `{"host": "cache"}`,
			Config{Kind: Single, Network: "tcp", Addr: "cache:6379"}},
		{"python None is absent", `{"host": "h", "password": null, "db": null}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:6379"}},
		{"python-only options ignored", `{"host": "h", "decode_responses": true, "encoding": "utf-8"}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:6379"}},
		{"credentials", `{"host": "h", "username": "app", "password": "pw"}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:6379", Username: "app", Password: "pw"}},
		{"socket timeout in seconds", `{"host": "h", "socket_timeout": 0.25, "socket_connect_timeout": 2}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:6379", ReadTimeout: 250 * time.Millisecond,
				WriteTimeout: 250 * time.Millisecond, DialTimeout: 2 * time.Second}},
		{"go durations", `{"addr": "h:1", "read_timeout": "150ms", "write_timeout": 0.5, "dial_timeout": "1s"}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:1", ReadTimeout: 150 * time.Millisecond,
				WriteTimeout: 500 * time.Millisecond, DialTimeout: time.Second}},
		{"unix socket", `{"unix_socket_path": "/run/redis.sock", "db": 1}`,
			Config{Kind: Single, Network: "unix", Addr: "/run/redis.sock", DB: 1}},
		{"addr with network unix", `{"addr": "/tmp/r.sock", "network": "unix"}`,
			Config{Kind: Single, Network: "unix", Addr: "/tmp/r.sock"}},
		{"url", `{"url": "redis://app:pw@h:6380/3"}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:6380", DB: 3, Username: "app", Password: "pw"}},
		{"rediss url", `{"url": "rediss://h:6380"}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:6380", TLS: &TLSConfig{ServerName: "h"}}},
		{"pool", `{"addr": "h:1", "max_connections": 20, "min_idle_conns": 2, "max_retries": 1, "protocol": 2}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:1", PoolSize: 20, MinIdleConns: 2, MaxRetries: 1, Protocol: 2}},
		{"ssl", `{"host": "h", "ssl": true, "ssl_ca_certs": "ca.pem", "ssl_cert_reqs": "required"}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:6379", TLS: &TLSConfig{CAFile: "ca.pem"}}},
		{"ssl client cert", `{"host": "h", "ssl": true, "ssl_certfile": "c.pem", "ssl_keyfile": "k.pem"}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:6379", TLS: &TLSConfig{CertFile: "c.pem", KeyFile: "k.pem"}}},
		{"ssl none is insecure", `{"host": "h", "ssl": true, "ssl_cert_reqs": "none"}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:6379", TLS: &TLSConfig{SkipVerify: true}}},
		{"ssl no hostname check", `{"host": "h", "ssl": true, "ssl_check_hostname": false}`,
			Config{Kind: Single, Network: "tcp", Addr: "h:6379", TLS: &TLSConfig{NoHostnameCheck: true}}},
		{"cluster", `{"cluster": ["a:7000", "b:7001"], "password": "pw", "read_only": true}`,
			Config{Kind: Cluster, Addrs: []string{"a:7000", "b:7001"}, Password: "pw", ReadOnly: true}},
		{"sentinel", `{"sentinel": {"master": "mymaster", "addrs": ["s:26379"], "password": "spw"}, "db": 1}`,
			Config{Kind: Sentinel, Master: "mymaster", Addrs: []string{"s:26379"}, SentinelPassword: "spw", DB: 1}},
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
		{"empty object names no server", `{}`, ""},
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
		{"pool_size and max_connections", `{"host": "h", "max_connections": 2, "pool_size": 2}`, "pool_size"},
		{"negative retries", `{"host": "h", "max_retries": -2}`, "max_retries"},
		{"protocol 4", `{"host": "h", "protocol": 4}`, "protocol"},
		{"ssl option without ssl", `{"host": "h", "ssl_ca_certs": "ca.pem"}`, "ssl_ca_certs"},
		{"bad cert reqs", `{"host": "h", "ssl": true, "ssl_cert_reqs": "maybe"}`, "ssl_cert_reqs"},
		{"cert without key", `{"host": "h", "ssl": true, "ssl_certfile": "c.pem"}`, "ssl_certfile"},
		{"ssl over unix", `{"unix_socket_path": "/s", "ssl": true}`, "ssl"},
		{"password not a string", `{"host": "h", "password": 123}`, "password"},
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

func TestSecretsNeverShown(t *testing.T) {
	const secret = "hunter2-Zq9"
	valid := []string{
		`{"host": "h", "password": "` + secret + `"}`,
		`{"url": "redis://user:` + secret + `@h:6379/0"}`,
		`{"sentinel": {"master": "m", "addrs": ["s:1"], "password": "` + secret + `"}, "password": "` + secret + `"}`,
	}
	for _, j := range valid {
		c, err := ParseConfig([]byte(j))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c)} {
			if strings.Contains(s, secret) {
				t.Fatalf("config printed its password: %s", s)
			}
		}
	}
	invalid := []string{
		`{"url": "redis://user:` + secret + `@h:notaport/0"}`,
		`{"url": "http://user:` + secret + `@h/0"}`,
		`{"url": "redis://user:` + secret + `@h:6379/notadb"}`,
		`{"password": "` + secret + `", "port": "x"}`,
		`{"password": ["` + secret + `"], "host": "h"}`,
		`{"password": "` + secret + `"}`,
	}
	for _, j := range invalid {
		_, err := ParseConfig([]byte(j))
		if err == nil {
			t.Fatalf("ParseConfig(%s) succeeded", j)
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), secret) {
				t.Fatalf("error chain shows the password: %v", e)
			}
		}
	}
}
