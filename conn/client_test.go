package conn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewClient makes the kind of client the config names, with conn's options mapped onto go-redis's.
func TestNewClientKindsAndOptions(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		check func(t *testing.T, c redis.UniversalClient)
	}{
		{"single", `{"host": "h", "port": 6380, "db": 2, "username": "u", "password": "p", "client_name": "n",
			"socket_timeout": 0.25, "socket_connect_timeout": 2, "max_connections": 7, "min_idle_conns": 0, "protocol": 2}`,
			func(t *testing.T, c redis.UniversalClient) {
				cl, ok := c.(*redis.Client)
				if !ok {
					t.Fatalf("got %T; want *redis.Client", c)
				}
				o := cl.Options()
				if o.Network != "tcp" || o.Addr != "h:6380" || o.DB != 2 || o.Username != "u" || o.Password != "p" ||
					o.ClientName != "n" || o.Protocol != 2 || o.PoolSize != 7 || o.MinIdleConns != 0 {
					t.Fatalf("options %+v", o)
				}
				if o.ReadTimeout != 250*time.Millisecond || o.WriteTimeout != 250*time.Millisecond || o.DialTimeout != 2*time.Second {
					t.Fatalf("timeouts read %v write %v dial %v; want 250ms 250ms 2s", o.ReadTimeout, o.WriteTimeout, o.DialTimeout)
				}
				if o.MaxRetries != 0 || !o.ContextTimeoutEnabled || o.TLSConfig != nil {
					t.Fatalf("MaxRetries %d (want 0 after go-redis maps -1), ContextTimeoutEnabled %v, TLS %v",
						o.MaxRetries, o.ContextTimeoutEnabled, o.TLSConfig)
				}
			}},
		{"single with retries and TLS", `{"addr": "cache:6380", "max_retries": 2, "read_timeout": "1s", "write_timeout": "2s",
			"ssl": true, "ssl_min_version": "TLSv1_3"}`,
			func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				if o.MaxRetries != 2 || o.ReadTimeout != time.Second || o.WriteTimeout != 2*time.Second {
					t.Fatalf("MaxRetries %d read %v write %v; want 2 1s 2s", o.MaxRetries, o.ReadTimeout, o.WriteTimeout)
				}
				if o.TLSConfig == nil || o.TLSConfig.ServerName != "cache" || o.TLSConfig.InsecureSkipVerify ||
					o.TLSConfig.MinVersion != tls.VersionTLS13 {
					t.Fatalf("TLS config %+v; want server name cache, verified, TLS 1.3", o.TLSConfig)
				}
			}},
		{"unix socket", `{"unix_socket_path": "/run/r.sock", "db": 1}`,
			func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				if o.Network != "unix" || o.Addr != "/run/r.sock" || o.DB != 1 {
					t.Fatalf("network %q addr %q db %d", o.Network, o.Addr, o.DB)
				}
			}},
		{"cluster", `{"cluster": ["a:7000", "b:7001"], "password": "p", "read_only": true, "route_by_latency": true,
			"socket_timeout": 0.5, "pool_size": 4}`,
			func(t *testing.T, c redis.UniversalClient) {
				cl, ok := c.(*redis.ClusterClient)
				if !ok {
					t.Fatalf("got %T; want *redis.ClusterClient", c)
				}
				o := cl.Options()
				if strings.Join(o.Addrs, ",") != "a:7000,b:7001" || o.Password != "p" || !o.ReadOnly || !o.RouteByLatency ||
					o.RouteRandomly || o.PoolSize != 4 {
					t.Fatalf("options %+v", o)
				}
				if o.MaxRetries != -1 || !o.ContextTimeoutEnabled {
					t.Fatalf("MaxRetries %d (want -1, none), ContextTimeoutEnabled %v", o.MaxRetries, o.ContextTimeoutEnabled)
				}
				if o.ReadTimeout != 500*time.Millisecond || o.WriteTimeout != 500*time.Millisecond {
					t.Fatalf("read %v write %v; want 500ms", o.ReadTimeout, o.WriteTimeout)
				}
			}},
		{"sentinel", `{"sentinel": {"master": "mymaster", "addrs": ["s:26379"], "password": "sp"}, "db": 3, "password": "p",
			"socket_timeout": 0.5}`,
			func(t *testing.T, c redis.UniversalClient) {
				cl, ok := c.(*redis.Client)
				if !ok {
					t.Fatalf("got %T; want the *redis.Client of redis.NewFailoverClient", c)
				}
				o := cl.Options()
				if o.Addr != "FailoverClient" { // go-redis's mark of a failover client
					t.Fatalf("Addr %q; want a failover client", o.Addr)
				}
				if o.DB != 3 || o.Password != "p" || o.MaxRetries != 0 || !o.ContextTimeoutEnabled ||
					o.ReadTimeout != 500*time.Millisecond || o.WriteTimeout != 500*time.Millisecond {
					t.Fatalf("options %+v", o)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			c, err := cfg.NewClient()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc.check(t, c)
		})
	}
}

// Every path from a config to a client refuses insecure TLS unless the caller allows it.
func TestNewClientRefusesInsecureTLS(t *testing.T) {
	for _, j := range []string{
		`{"host": "h", "ssl": true, "ssl_cert_reqs": "none"}`,
		`{"host": "h", "ssl": true, "ssl_check_hostname": false}`,
		`{"url": "rediss://h:6380/0?skip_verify=true"}`,
		`{"host": "h", "ssl": true, "skip_verify": true}`,
		`{"cluster": ["a:1"], "ssl": true, "ssl_cert_reqs": "none"}`,
		`{"sentinel": {"master": "m", "addrs": ["s:1"]}, "ssl": true, "ssl_cert_reqs": "CERT_NONE"}`,
	} {
		cfg, err := ParseConfig([]byte(j))
		if err != nil {
			t.Fatal(err)
		}
		if c, err := cfg.NewClient(); !errors.Is(err, ErrInsecureTLS) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("NewClient(%s) = %v; want ErrInsecureTLS", j, err)
		}
		c, err := cfg.NewClientAllowInsecure()
		if err != nil {
			t.Fatalf("NewClientAllowInsecure(%s): %v", j, err)
		}
		var tc *tls.Config
		switch c := c.(type) {
		case *redis.Client:
			tc = c.Options().TLSConfig
		case *redis.ClusterClient:
			tc = c.Options().TLSConfig
		}
		c.Close()
		if tc == nil || !tc.InsecureSkipVerify {
			t.Fatalf("NewClientAllowInsecure(%s) TLS config %+v; want verification off as asked", j, tc)
		}
	}
}

// ssl_ca_path reads every PEM file of the directory; one that holds none is a config error.
func TestCAPath(t *testing.T) {
	dir := t.TempDir()
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "readme"), []byte("no certificates"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), testCAPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir string
		ok  bool
	}{{dir, true}, {empty, false}, {filepath.Join(dir, "missing"), false}} {
		cfg, err := ParseConfig([]byte(fmt.Sprintf(`{"host": "h", "ssl": true, "ssl_ca_path": %q}`, tc.dir)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := cfg.NewClient()
		if tc.ok {
			if err != nil {
				t.Fatalf("ssl_ca_path %s: %v", tc.dir, err)
			}
			if c.(*redis.Client).Options().TLSConfig.RootCAs == nil {
				t.Fatalf("ssl_ca_path %s: no roots loaded", tc.dir)
			}
			c.Close()
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "ssl_ca_path" || !errors.Is(err, ErrBadConfig) {
			t.Fatalf("ssl_ca_path %s: %v; want ErrBadConfig naming ssl_ca_path", tc.dir, err)
		}
	}
}

// testCAPEM makes a self-signed CA certificate, for loading only.
func testCAPEM(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "conn test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

type noper interface{ Nope() }

// As names both types as Go writes them (not **redis.ClusterClient), and assumes no wrapper.
func TestAsNamesTheTypes(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "localhost:1"})
	defer c.Close()
	_, err := As[*redis.ClusterClient](c, "market")
	want := `conn: client is not of the type asked for: component "market" has a *redis.Client, which is not a *redis.ClusterClient`
	if !errors.Is(err, ErrClientType) || err.Error() != want {
		t.Fatalf("As = %v; want %q", err, want)
	}
	_, err = As[noper](c, "market")
	if !errors.Is(err, ErrClientType) || !strings.HasSuffix(err.Error(), "has a *redis.Client, which does not implement conn.noper") {
		t.Fatalf("As[noper] = %v", err)
	}
	_, err = As[redis.Cmdable](nil, "market")
	if !errors.Is(err, ErrClientType) || !strings.HasSuffix(err.Error(), "has no client, which does not implement redis.Cmdable") {
		t.Fatalf("As[redis.Cmdable](nil) = %v", err)
	}
	for _, bad := range []string{"**", "function", "wrapped"} {
		if strings.Contains(err.Error(), bad) || strings.Contains(ErrClientType.Error(), bad) {
			t.Fatalf("error %q says %q", err, bad)
		}
	}
	if got, err := As[redis.Cmdable](c, "market"); err != nil || got != redis.Cmdable(c) {
		t.Fatalf("As[redis.Cmdable] = %v, %v; want the client", got, err)
	}
}
