package conn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ria-go/ria/internal/safefile"
)

// A TLS file that cannot be used is a *ConfigError naming the field and saying what is wrong
// (missing, not a regular file, no PEM certificate, no key pair), never quoting the path: every
// directory and file name here holds the secret, and no piece of it appears in any form of the error.
func TestTLSFileErrorsQuoteNoPath(t *testing.T) {
	const secret = "Qx7Zk9WTok"
	dir := filepath.Join(t.TempDir(), "tok-"+secret)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cert, key := writePEMPair(t, dir, secret)
	junk := filepath.Join(dir, secret+".junk")
	fifo := filepath.Join(dir, secret+".fifo")
	empty := filepath.Join(dir, secret+"-empty")
	big := filepath.Join(t.TempDir(), secret+"-big")
	for _, err := range []error{
		os.WriteFile(junk, []byte("not pem"), 0o600),
		syscall.Mkfifo(fifo, 0o600),
		os.Mkdir(empty, 0o700),
		os.Mkdir(big, 0o700),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(big, secret), make([]byte, maxPEMBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, secret+".missing")
	for _, tc := range []struct {
		name, tls, field, say string
		is                    error
	}{
		{"ca missing", fmt.Sprintf(`"ssl_ca_certs": %q`, missing), "ssl_ca_certs", "no such file", fs.ErrNotExist},
		{"ca a FIFO", fmt.Sprintf(`"ssl_ca_certs": %q`, fifo), "ssl_ca_certs", "not a regular file: named pipe", safefile.ErrNotRegular},
		{"ca a directory", fmt.Sprintf(`"ssl_ca_certs": %q`, dir), "ssl_ca_certs", "not a regular file: directory", safefile.ErrNotRegular},
		{"ca not PEM", fmt.Sprintf(`"ssl_ca_certs": %q`, junk), "ssl_ca_certs", "holds no PEM certificate", ErrBadConfig},
		{"ca path missing", fmt.Sprintf(`"ssl_ca_path": %q`, missing), "ssl_ca_path", "no such file", fs.ErrNotExist},
		{"ca path a file", fmt.Sprintf(`"ssl_ca_path": %q`, junk), "ssl_ca_path", "not a directory", safefile.ErrNotDir},
		{"ca path without PEM", fmt.Sprintf(`"ssl_ca_path": %q`, empty), "ssl_ca_path", "holds no PEM certificate", ErrBadConfig},
		{"ca path too large", fmt.Sprintf(`"ssl_ca_path": %q`, big), "ssl_ca_path", "larger than", safefile.ErrTooLarge},
		{"cert missing", fmt.Sprintf(`"ssl_certfile": %q, "ssl_keyfile": %q`, missing, key), "ssl_certfile", "no such file", fs.ErrNotExist},
		{"key a FIFO", fmt.Sprintf(`"ssl_certfile": %q, "ssl_keyfile": %q`, cert, fifo), "ssl_keyfile", "named pipe", safefile.ErrNotRegular},
		{"no key pair", fmt.Sprintf(`"ssl_certfile": %q, "ssl_keyfile": %q`, junk, key), "ssl_certfile", "certificate and its key", ErrBadConfig},
		{"key of another", fmt.Sprintf(`"ssl_certfile": %q, "ssl_keyfile": %q`, key, cert), "ssl_certfile", "certificate and its key", ErrBadConfig},
	} {
		for kind, server := range map[string]string{
			"single": `"host": "127.0.0.1"`, "cluster": `"cluster": ["127.0.0.1:1"]`,
			"sentinel": `"sentinel": {"master": "m", "addrs": ["127.0.0.1:1"]}`,
		} {
			doc := fmt.Sprintf(`{%s, "ssl": true, %s}`, server, tc.tls)
			c, err := ParseConfig([]byte(doc))
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			client, err := c.NewClient()
			if client != nil {
				client.Close()
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrBadConfig) || !errors.Is(err, tc.is) ||
				!strings.Contains(err.Error(), tc.say) {
				t.Errorf("%s (%s): %v; want a *ConfigError naming %s, saying %q, matching %v", tc.name, kind, err, tc.field, tc.say, tc.is)
				continue
			}
			var se *safefile.Error
			if errors.As(err, &se) {
				t.Errorf("%s (%s): the error holds a *safefile.Error, and with it the path", tc.name, kind)
			}
			noPiece(t, tc.name, errorOutputs(err, ce), secret)
		}
	}
}

// writePEMPair writes a certificate and its key into dir, named after tag.
func writePEMPair(t *testing.T, dir, tag string) (cert, key string) {
	t.Helper()
	certPEM, keyPEM := selfSigned(t)
	cert, key = filepath.Join(dir, tag+".crt"), filepath.Join(dir, tag+".key")
	if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// selfSigned makes a self-signed certificate and its key, in PEM.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "conn test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}
