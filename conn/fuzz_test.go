package conn

import (
	"errors"
	"testing"
)

// FuzzParseConfig: any bytes give a config or a *ConfigError wrapping ErrBadConfig, never a panic;
// an accepted config never prints its password. Findings live on in testdata/fuzz/FuzzParseConfig.
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
		if other.String() != c.String() {
			t.Fatalf("String() depends on the password: %s", c.String())
		}
		// Parsing is deterministic: the same bytes give the same normalized config.
		again, err := ParseConfig(data)
		if err != nil || again.canonical() != c.canonical() {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}
