package conn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The registry builds clients within the load's ctx: a TLS file read after ctx has ended fails with
// ctx's error, naming the field, and is not called a bad config.
func TestNewClientWithinContext(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, field := range []string{"ssl_ca_certs", "ssl_ca_path"} {
		path := ca
		if field == "ssl_ca_path" {
			path = dir
		}
		cfg, err := ParseConfig([]byte(fmt.Sprintf(`{"host": "h", "ssl": true, %q: %q}`, field, path)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := cfg.newClient(ctx, false)
		if c != nil {
			c.Close()
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != field || !errors.Is(err, context.Canceled) || errors.Is(err, ErrBadConfig) {
			t.Fatalf("%s with an ended ctx: %v; want context.Canceled naming %s, not ErrBadConfig", field, err, field)
		}
	}
}
