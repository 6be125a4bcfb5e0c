package conn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/safefile"
)

// within runs fn and fails the test, instead of hanging it, if fn does not return: an open of a FIFO
// or a read of /dev/zero would never end. The limit is a watchdog against a hang, not a measure of speed.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not return", what)
	}
}

// pemFiles writes a self-signed certificate (a CA) and its key, and returns their paths.
func pemFiles(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "conn test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// badTargets makes one path of each kind a TLS file must not be, with what the error should say.
func badTargets(t *testing.T) map[string]string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cf") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // wake a reader a failing test left blocked in open
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	zero, dangling, sock := filepath.Join(dir, "zero"), filepath.Join(dir, "dangling"), filepath.Join(dir, "sock")
	big := filepath.Join(t.TempDir(), "big") // its own directory: see TestCAPathLimits
	for _, err := range []error{
		os.Symlink("/dev/zero", zero),
		os.Symlink(filepath.Join(dir, "nowhere"), dangling),
		os.WriteFile(big, make([]byte, 2<<20), 0o600),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return map[string]string{
		fifo: "named pipe", "/dev/zero": "character device", zero: "character device", "/dev/null": "character device",
		"/dev": "directory", dir: "directory", dangling: "dangling symbolic link", sock: "socket", big: "larger than",
	}
}

var kindsJSON = map[string]string{
	"single":   `"host": "127.0.0.1", "port": 1`,
	"cluster":  `"cluster": ["127.0.0.1:1"]`,
	"sentinel": `"sentinel": {"master": "m", "addrs": ["127.0.0.1:1"]}`,
}

// A TLS file that is a FIFO, a device, a directory, a socket, a dangling link or too large is a
// *ConfigError naming the field (never the path: a config's value is not quoted) and saying what it
// is, from NewClient, at once, for every kind of client. ssl_ca_path "/dev" reads none of its devices
// and holds no certificate.
func TestTLSFilesNotRegular(t *testing.T) {
	cert, key := pemFiles(t, t.TempDir())
	for target, say := range badTargets(t) {
		for _, field := range []string{"ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_ca_path"} {
			tls := map[string]string{"ssl_certfile": fmt.Sprintf(`, "ssl_certfile": %q, "ssl_keyfile": %q`, target, key),
				"ssl_keyfile": fmt.Sprintf(`, "ssl_certfile": %q, "ssl_keyfile": %q`, cert, target),
			}[field]
			if tls == "" {
				tls = fmt.Sprintf(`, %q: %q`, field, target)
			}
			wantSay := say
			if field == "ssl_ca_path" {
				switch say {
				case "directory":
					wantSay = "holds no PEM certificate"
				case "larger than":
					continue // a file, not a directory: covered by the others
				default:
					wantSay = "not a directory"
					if say == "dangling symbolic link" {
						wantSay = say
					}
				}
			}
			for kind, server := range kindsJSON {
				js := fmt.Sprintf(`{%s, "ssl": true%s}`, server, tls)
				cfg, err := conn.ParseConfig([]byte(js))
				if err != nil {
					t.Fatalf("%s: %v", js, err)
				}
				var c redis.UniversalClient
				within(t, "NewClient "+js, func() { c, err = cfg.NewClient() })
				if c != nil {
					c.Close()
				}
				var ce *conn.ConfigError
				if !errors.As(err, &ce) || ce.Field != field || !errors.Is(err, conn.ErrBadConfig) ||
					!strings.Contains(err.Error(), wantSay) || strings.Contains(err.Error(), target) {
					t.Errorf("%s %s = %s: %v; want a *ConfigError naming %s, not the path, saying %q", kind, field, target, err, field, wantSay)
				}
			}
		}
	}
}

// ssl_ca_path is bounded: a file over 1 MiB in it, or more than 4096 entries, is an error naming
// ssl_ca_path, not a read without end.
func TestCAPathLimits(t *testing.T) {
	cert, _ := pemFiles(t, t.TempDir())
	big := t.TempDir()
	if err := os.WriteFile(filepath.Join(big, "a"), make([]byte, 1<<20+1), 0o600); err != nil {
		t.Fatal(err)
	}
	many := t.TempDir()
	for i := range 4097 {
		if err := os.Symlink(cert, filepath.Join(many, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{big, many} {
		cfg, err := conn.ParseConfig([]byte(fmt.Sprintf(`{"host": "h", "ssl": true, "ssl_ca_path": %q}`, dir)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = cfg.NewClient()
		var ce *conn.ConfigError
		if !errors.As(err, &ce) || ce.Field != "ssl_ca_path" || !errors.Is(err, conn.ErrBadConfig) || !errors.Is(err, safefile.ErrTooLarge) {
			t.Fatalf("ssl_ca_path %s: %v; want ErrBadConfig and ErrTooLarge naming ssl_ca_path", dir, err)
		}
	}
}

// Through a registry: SetConfig switching a served component to a config whose ssl_ca_certs is a
// FIFO, /dev/zero or a directory returns ErrNotLoaded naming the field under a short ctx, and the old
// client keeps serving; a first load of such a config fails the same way; Refresh too; and Close
// returns, with no load left blocked.
func TestRegistryTLSFilesNotRegular(t *testing.T) {
	targets := badTargets(t)
	cfgServer := miniredis.RunT(t)
	cfgClient := redis.NewClient(&redis.Options{Addr: cfgServer.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer cfgClient.Close()
	data := miniredis.RunT(t)
	good := fmt.Sprintf(`{"addr": %q}`, data.Addr())
	reg, err := conn.New(cfgClient, nil)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for target, say := range targets {
		for _, field := range []string{"ssl_ca_certs", "ssl_ca_path"} {
			i++
			bad := fmt.Sprintf(`{"addr": %q, "ssl": true, %q: %q}`, data.Addr(), field, target)
			check := func(what string, err error) {
				t.Helper()
				var ce *conn.ConfigError
				if !errors.As(err, &ce) || ce.Field != field || !errors.Is(err, conn.ErrBadConfig) {
					t.Fatalf("%s with %s %s (%s): %v; want a *ConfigError naming %s", what, field, target, say, err, field)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			served := fmt.Sprintf("served%d", i)
			if err := reg.SetConfig(ctx, served, good); err != nil {
				t.Fatal(err)
			}
			before, err := reg.Client(ctx, served)
			if err != nil {
				t.Fatal(err)
			}
			within(t, "SetConfig", func() { err = reg.SetConfig(ctx, served, bad) })
			check("SetConfig", err)
			if !errors.Is(err, conn.ErrNotLoaded) {
				t.Fatalf("SetConfig: %v; want ErrNotLoaded", err)
			}
			if after, err := reg.Client(ctx, served); err != nil || after != before || after.Ping(ctx).Err() != nil {
				t.Fatalf("after a refused switch: %v; want the old client serving", err)
			}
			within(t, "Refresh", func() { err = reg.Refresh(ctx, served) })
			check("Refresh", err)

			fresh := fmt.Sprintf("fresh%d", i)
			if err := reg.SetConfig(ctx, fresh, bad); err != nil {
				t.Fatal(err) // not served here: nothing to load yet
			}
			within(t, "Client", func() { _, err = reg.Client(ctx, fresh) })
			check("first load", err)
			cancel()
		}
	}
	within(t, "Close", func() { reg.Close() })
}

// Property: over random directories (PEM files, junk, directories, FIFOs, links to /dev/zero,
// dangling links, links to any of them) as ssl_ca_path, NewClient never blocks, and succeeds exactly
// when a regular file (or a link to one) holds a certificate; else the error names ssl_ca_path.
func TestPropertyCAPathContents(t *testing.T) {
	cert, _ := pemFiles(t, t.TempDir())
	certPEM, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(40) {
		r := mrand.New(mrand.NewPCG(seed, 11))
		dir := t.TempDir()
		var names []string
		hasCert := map[string]bool{}
		for i := range 1 + r.IntN(8) {
			name := fmt.Sprintf("e%d", i)
			p := filepath.Join(dir, name)
			var err error
			switch r.IntN(7) {
			case 0:
				err = os.WriteFile(p, certPEM, 0o600)
				hasCert[name] = true
			case 1:
				err = os.WriteFile(p, []byte("not a certificate"), 0o600)
			case 2:
				err = os.Mkdir(p, 0o700)
			case 3:
				err = syscall.Mkfifo(p, 0o600)
			case 4:
				err = os.Symlink("/dev/zero", p)
			case 5:
				err = os.Symlink(filepath.Join(dir, "nowhere"), p)
			case 6:
				if len(names) == 0 {
					err = os.Symlink("/dev", p)
					break
				}
				target := names[r.IntN(len(names))]
				err = os.Symlink(target, p)
				hasCert[name] = hasCert[target]
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
		want := false
		for _, ok := range hasCert {
			want = want || ok
		}
		cfg, err := conn.ParseConfig([]byte(fmt.Sprintf(`{"host": "h", "ssl": true, "ssl_ca_path": %q}`, dir)))
		if err != nil {
			t.Fatal(err)
		}
		var c redis.UniversalClient
		within(t, "NewClient", func() { c, err = cfg.NewClient() })
		if c != nil {
			c.Close()
		}
		var ce *conn.ConfigError
		switch {
		case want && err != nil:
			t.Fatalf("seed %d: %v; want the certificate loaded", seed, err)
		case !want && (!errors.As(err, &ce) || ce.Field != "ssl_ca_path" || !errors.Is(err, conn.ErrBadConfig)):
			t.Fatalf("seed %d: %v; want a *ConfigError naming ssl_ca_path", seed, err)
		}
	}
}
