package conn

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseConfig: any bytes give a config or a *ConfigError wrapping ErrBadConfig, never a panic;
// an accepted config never prints its password, and no error shows one. Findings live on in testdata/fuzz/FuzzParseConfig.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"host": "h", "port": 6379, "db": 0}`,
		`{"url": "redis://u:p@h:1/2"}`,
		`{"cluster": ["a:1", "b:2"], "password": "secret-pw"}`,
		`{"sentinel": {"master": "m", "addrs": ["s:1"]}}`,
		`{"unix_socket_path": "/s", "socket_timeout": 1e-9}`,
		`{"host": "h", "ssl": true, "ssl_cert_reqs": "CERT_NONE"}`,
		`{"addr": "[::1]:6379", "read_timeout": "1h"}`,
		`{"port": 1e300}`, `{"db": -0}`, `[]`, `null`, `"x"`, `{"host": null}`,
		`{"url": "redis://u:pass-word-1@h:x/0"}`, `{"password": "pass-word-1", "port": "x"}`,
		`{"host": "h", "ssl": true, "ssl_password": "pass-word-1"}`,
		`{"sentinel": {"master": "m", "addrs": ["s"], "password": "pass-word-1"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrBadConfig) {
				t.Fatalf("error %v (%T) is not a *ConfigError wrapping ErrBadConfig", err, err)
			}
			for _, s := range fuzzSecrets(data) {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q shows the password %q", err, s)
				}
			}
			return
		}

		if c.Kind != Single && c.Kind != Cluster && c.Kind != Sentinel {
			t.Fatalf("unknown kind %v", c.Kind)
		}
		// String() masks secrets: changing them must not change it.
		other := *c
		if other.Password != "" {
			other.Password = "other-" + other.Password
		}
		if other.SentinelPassword != "" {
			other.SentinelPassword = "other-" + other.SentinelPassword
		}
		for _, show := range []func(c *Config) string{
			func(c *Config) string { return c.String() },
			func(c *Config) string { return fmt.Sprintf("%+v", *c) },
			func(c *Config) string { b, _ := json.Marshal(*c); return string(b) },
		} {
			if show(&other) != show(c) {
				t.Fatalf("config shown depends on the password: %s", show(c))
			}
		}
		// Parsing is deterministic: the same bytes give the same normalized config.
		again, err := ParseConfig(data)
		if err != nil || again.canonical() != c.canonical() {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

// fuzzSecrets returns the passwords in data that a message must not show: those at least 6 bytes long
// that appear in data exactly once, so a message showing one cannot have taken it from another field.
func fuzzSecrets(data []byte) []string {
	var obj map[string]any
	if json.Unmarshal(data, &obj) != nil {
		return nil
	}
	var cands []string
	add := func(v any) {
		if s, ok := v.(string); ok {
			cands = append(cands, s)
		}
	}
	add(obj["password"])
	add(obj["ssl_password"])
	if s, ok := obj["sentinel"].(map[string]any); ok {
		add(s["password"])
	}
	if s, ok := obj["url"].(string); ok {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				add(pw)
			}
		}
	}
	var out []string
	for _, s := range cands {
		if len(s) >= 6 && strings.Count(string(data), s) == 1 {
			out = append(out, s)
		}
	}
	return out
}
