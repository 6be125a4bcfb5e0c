package conn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/redis/go-redis/v9"
)

// tlsConfig builds the crypto/tls config, reading the certificate files.
func (c *Config) tlsConfig(host string) (*tls.Config, error) {
	t := c.TLS
	if t == nil {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: max(t.MinVersion, tls.VersionTLS12), ServerName: t.ServerName}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fieldErr("ssl_ca_certs", fmt.Errorf("%w: %v", ErrBadConfig, err))
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fieldErr("ssl_ca_certs", fmt.Errorf("%w: %s holds no PEM certificate", ErrBadConfig, t.CAFile))
		}
	}
	if t.CAPath != "" {
		// OpenSSL's capath holds hashed links to PEM files; reading every file gives the same roots.
		ents, err := os.ReadDir(t.CAPath)
		if err != nil {
			return nil, fieldErr("ssl_ca_path", fmt.Errorf("%w: %v", ErrBadConfig, err))
		}
		if tc.RootCAs == nil {
			tc.RootCAs = x509.NewCertPool()
		}
		found := false
		for _, ent := range ents {
			pem, err := os.ReadFile(filepath.Join(t.CAPath, ent.Name()))
			if err == nil && tc.RootCAs.AppendCertsFromPEM(pem) {
				found = true
			}
		}
		if !found {
			return nil, fieldErr("ssl_ca_path", fmt.Errorf("%w: %s holds no PEM certificate", ErrBadConfig, t.CAPath))
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fieldErr("ssl_certfile", fmt.Errorf("%w: %v", ErrBadConfig, err))
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	switch {
	case t.SkipVerify:
		tc.InsecureSkipVerify = true
	case t.NoHostnameCheck:
		// Verify the chain against the roots, but not the name: what ssl_check_hostname=false means.
		tc.InsecureSkipVerify = true
		roots := tc.RootCAs
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("conn: server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, ic := range cs.PeerCertificates[1:] {
				inter.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return tc, nil
}

// NewClient makes the go-redis client the config describes: a *redis.ClusterClient for Cluster, a
// *redis.Client otherwise (from redis.NewFailoverClient for Sentinel). Every client it makes has
// ContextTimeoutEnabled, so a context's deadline bounds each call, and makes no retries
// unless MaxRetries asks for them. A config that turns TLS verification off (Insecure) is refused
// with a *ConfigError wrapping ErrInsecureTLS: use NewClientAllowInsecure where the application,
// not the config store, has decided to allow it.
func (c *Config) NewClient() (redis.UniversalClient, error) {
	if c.Insecure() {
		return nil, &ConfigError{Field: "ssl", Err: ErrInsecureTLS}
	}
	return c.newClient()
}

// NewClientAllowInsecure is NewClient that also makes a client whose config turns TLS verification off.
func (c *Config) NewClientAllowInsecure() (redis.UniversalClient, error) { return c.newClient() }

func (c *Config) newClient() (redis.UniversalClient, error) {
	retries := c.MaxRetries
	if retries == 0 {
		retries = -1 // go-redis: -1 disables retries; 0 would mean its default of 3
	}
	switch c.Kind {
	case Cluster:
		tc, err := c.tlsConfig("")
		if err != nil {
			return nil, err
		}
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: c.Addrs, Username: c.Username, Password: c.Password, ClientName: c.ClientName,
			TLSConfig: tc, DialTimeout: c.DialTimeout, ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout,
			PoolSize: c.PoolSize, MinIdleConns: c.MinIdleConns, MaxRetries: retries, Protocol: c.Protocol,
			ReadOnly: c.ReadOnly, RouteByLatency: c.RouteByLatency, RouteRandomly: c.RouteRandomly,
			ContextTimeoutEnabled: true,
		}), nil
	case Sentinel:
		tc, err := c.tlsConfig("")
		if err != nil {
			return nil, err
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: c.Master, SentinelAddrs: c.Addrs,
			SentinelUsername: c.SentinelUsername, SentinelPassword: c.SentinelPassword,
			Username: c.Username, Password: c.Password, DB: c.DB, ClientName: c.ClientName,
			TLSConfig: tc, DialTimeout: c.DialTimeout, ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout,
			PoolSize: c.PoolSize, MinIdleConns: c.MinIdleConns, MaxRetries: retries, Protocol: c.Protocol,
			ContextTimeoutEnabled: true,
		}), nil
	default:
		host := ""
		if c.Network != "unix" {
			host, _, _ = net.SplitHostPort(c.Addr)
		}
		tc, err := c.tlsConfig(host)
		if err != nil {
			return nil, err
		}
		return redis.NewClient(&redis.Options{
			Network: c.Network, Addr: c.Addr, DB: c.DB,
			Username: c.Username, Password: c.Password, ClientName: c.ClientName,
			TLSConfig: tc, DialTimeout: c.DialTimeout, ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout,
			PoolSize: c.PoolSize, MinIdleConns: c.MinIdleConns, MaxRetries: retries, Protocol: c.Protocol,
			ContextTimeoutEnabled: true,
		}), nil
	}
}
