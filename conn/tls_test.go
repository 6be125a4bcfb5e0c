package conn_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

// TLS configs against a real TLS-only redis-server whose certificates the test generated. The server
// listens on 127.0.0.2, a name its certificate does not carry, to tell hostname checks from chain checks.
func TestTLSRealServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := redistest.RunT(t, &redistest.Options{TLS: true, Host: "127.0.0.2"})
	named := redistest.RunT(t, &redistest.Options{TLS: true}) // 127.0.0.1: in its certificate
	mtls := redistest.RunT(t, &redistest.Options{TLS: true, TLSAuthClients: true})
	f, fn, fm := srv.TLSFiles(), named.TLSFiles(), mtls.TLSFiles()
	caDir := t.TempDir() // ssl_ca_path: a directory holding the CA
	if pem, err := os.ReadFile(fn.CA); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(filepath.Join(caDir, "ca.pem"), pem, 0o600); err != nil {
		t.Fatal(err)
	}
	// OpenSSL's capath form: a hashed link to the CA, beside entries that are not files (never opened).
	linkDir := t.TempDir()
	if err := os.Symlink(fn.CA, filepath.Join(linkDir, "5f6a3b2c.0")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(linkDir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(linkDir, "zero")); err != nil {
		t.Fatal(err)
	}
	cfgServer := redistest.RunT(t, nil)
	strict, err := conn.New(cfgServer.Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	lax, err := conn.New(cfgServer.Client(t), &conn.Options{AllowInsecureTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lax.Close()

	tests := []struct {
		name    string
		reg     *conn.Registry
		json    string
		wantErr error // nil: PING must work; errAny: PING must fail; failWith: fail saying so
	}{
		{"verified chain and name", strict, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "ssl": true, "ssl_ca_certs": %q}`,
			named.Port(), fn.CA), nil},
		{"client certificate", strict, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "ssl": true, "ssl_ca_certs": %q, "ssl_certfile": %q, "ssl_keyfile": %q}`,
			mtls.Port(), fm.CA, fm.ClientCert, fm.ClientKey), nil},
		{"client certificate required", strict, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "ssl": true, "ssl_ca_certs": %q}`,
			mtls.Port(), fm.CA), failWith("tls: certificate required")},
		{"client certificate from another CA", strict, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "ssl": true, "ssl_ca_certs": %q, "ssl_certfile": %q, "ssl_keyfile": %q}`,
			mtls.Port(), fm.CA, fn.ClientCert, fn.ClientKey), failWith("unknown certificate authority")},
		{"CA from ssl_ca_path", strict, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "ssl": true, "ssl_ca_path": %q}`,
			named.Port(), caDir), nil},
		{"CA from a hashed link in ssl_ca_path", strict, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "ssl": true, "ssl_ca_path": %q}`,
			named.Port(), linkDir), nil},
		{"TLS 1.3 minimum", strict, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "ssl": true, "ssl_ca_certs": %q, "ssl_min_version": "TLSv1_3"}`,
			named.Port(), fn.CA), nil},
		{"name not in certificate", strict, fmt.Sprintf(`{"host": "127.0.0.2", "port": %d, "ssl": true, "ssl_ca_certs": %q}`,
			srv.Port(), f.CA), failWith("not 127.0.0.2")},
		{"unknown CA", strict, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "ssl": true}`, named.Port()), failWith("certificate signed by unknown authority")},
		{"no hostname check refused", strict, fmt.Sprintf(`{"host": "127.0.0.2", "port": %d, "ssl": true, "ssl_ca_certs": %q, "ssl_check_hostname": false}`,
			srv.Port(), f.CA), conn.ErrInsecureTLS},
		{"no hostname check allowed", lax, fmt.Sprintf(`{"host": "127.0.0.2", "port": %d, "ssl": true, "ssl_ca_certs": %q, "ssl_check_hostname": false}`,
			srv.Port(), f.CA), nil},
		{"no hostname check still checks the chain", lax, fmt.Sprintf(`{"host": "127.0.0.2", "port": %d, "ssl": true, "ssl_check_hostname": false}`,
			srv.Port()), failWith("certificate signed by unknown authority")},
		{"no verification refused", strict, fmt.Sprintf(`{"host": "127.0.0.2", "port": %d, "ssl": true, "ssl_cert_reqs": "none"}`,
			srv.Port()), conn.ErrInsecureTLS},
		{"no verification allowed", lax, fmt.Sprintf(`{"host": "127.0.0.2", "port": %d, "ssl": true, "ssl_cert_reqs": "none"}`,
			srv.Port()), nil},
		{"missing CA file", strict, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "ssl": true, "ssl_ca_certs": "/nonexistent/ca.pem"}`,
			named.Port()), conn.ErrBadConfig},
		{"plain text to a TLS port", strict, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d}`, named.Port()), errAny},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			component := fmt.Sprintf("tls%d", i)
			fw, isFail := tc.wantErr.(failWith)
			if err := tc.reg.SetConfig(ctx, component, tc.json); err != nil {
				if tc.wantErr != nil && tc.wantErr != errAny && !isFail && errors.Is(err, tc.wantErr) {
					return
				}
				t.Fatalf("SetConfig: %v", err)
			}
			short, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			var err error
			c, err := tc.reg.Client(short, component)
			if err == nil {
				err = c.Ping(short).Err()
			}
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("PING: %v", err)
			case tc.wantErr == errAny && err == nil:
				t.Fatal("PING succeeded; want a failure")
			case isFail && (err == nil || !strings.Contains(err.Error(), string(fw))):
				t.Fatalf("PING: %v; want a failure saying %q", err, string(fw))
			case tc.wantErr != nil && tc.wantErr != errAny && !isFail && !errors.Is(err, tc.wantErr):
				t.Fatalf("err = %v; want %v", err, tc.wantErr)
			}
		})
	}
}

var errAny = errors.New("any error")

// failWith is a wanted PING failure whose message holds the string: the TLS check that refused.
type failWith string

func (f failWith) Error() string { return string(f) }

// ACL credentials from a config, against a real server with a least-privilege user.
func TestACLUserRealServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const secret = "pw-7f3kQ"
	srv := redistest.RunT(t, &redistest.Options{Config: []string{
		"user app on >" + secret + " ~app:* +@read +@write -@dangerous",
	}})
	reg, err := conn.New(redistest.RunT(t, nil).Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if err := reg.SetConfig(ctx, "app", fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "username": "app", "password": %q}`, srv.Port(), secret)); err != nil {
		t.Fatal(err)
	}
	c, err := reg.Client(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "app:k", "v", 0).Err(); err != nil {
		t.Fatalf("SET within the user's keys: %v", err)
	}
	if err := c.Set(ctx, "other:k", "v", 0).Err(); err == nil {
		t.Fatal("SET outside the user's keys succeeded")
	}
	if err := c.FlushAll(ctx).Err(); err == nil {
		t.Fatal("FLUSHALL (a dangerous command) succeeded")
	}
	if err := reg.SetConfig(ctx, "wrong", fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "username": "app", "password": "not-%s"}`, srv.Port(), secret)); err != nil {
		t.Fatal(err)
	}
	w, err := reg.Client(ctx, "wrong")
	if err != nil {
		t.Fatal(err)
	}
	err = w.Ping(ctx).Err()
	if err == nil {
		t.Fatal("PING with a wrong password succeeded")
	}
	for _, s := range []string{err.Error(), fmt.Sprint(reg.Config("wrong")), fmt.Sprintf("%+v", reg.Config("app"))} {
		if strings.Contains(s, secret) {
			t.Fatalf("a password leaked: %s", s)
		}
	}
}
