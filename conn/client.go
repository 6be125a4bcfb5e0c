package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/safefile"
)

// Bounds on the TLS files a config names. A certificate or key is a few KiB and a bundle of every
// public root about 250 KiB; OpenSSL's capath directories (/etc/ssl/certs) hold a few hundred entries.
const (
	maxPEMBytes     = 1 << 20
	maxCADirEntries = 4096
	maxCADirBytes   = 16 << 20
)

// readPEM reads a TLS file named by field: a regular file of at most maxPEMBytes. A FIFO, a device
// (/dev/zero), a socket or a directory is refused before it is read, so reading never blocks.
func readPEM(ctx context.Context, field, path string) ([]byte, error) {
	b, err := safefile.ReadFile(ctx, path, maxPEMBytes)
	if err != nil {
		return nil, fileFieldErr(ctx, field, err)
	}
	return b, nil
}

// fileFieldErr names the field whose file failed, and not the path: a config's value is never
// quoted. A file cut short by ctx is not a bad config.
func fileFieldErr(ctx context.Context, field string, err error) error {
	err = safefile.HidePath(err)
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return fieldErr(field, err)
	}
	return fieldErr(field, fmt.Errorf("%w: %w", ErrBadConfig, err))
}

// tlsConfig builds the crypto/tls config, reading the certificate files; ctx bounds the reads.
func (c *Config) tlsConfig(ctx context.Context, host string) (*tls.Config, error) {
	t := c.TLS
	if t == nil {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: max(t.MinVersion, tls.VersionTLS12), ServerName: t.ServerName}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if t.CAFile != "" {
		pem, err := readPEM(ctx, "ssl_ca_certs", t.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fieldErr("ssl_ca_certs", fmt.Errorf("%w: the file holds no PEM certificate", ErrBadConfig))
		}
	}
	if t.CAPath != "" {
		// OpenSSL's capath holds hashed links to PEM files; reading every regular file gives the same
		// roots. Entries that are not files (a FIFO, a device: ssl_ca_path "/dev") are never opened.
		if tc.RootCAs == nil {
			tc.RootCAs = x509.NewCertPool()
		}
		found := false
		err := safefile.ReadDir(ctx, t.CAPath, safefile.DirLimits{
			MaxEntries: maxCADirEntries, MaxFileBytes: maxPEMBytes, MaxBytes: maxCADirBytes,
		}, func(_ string, pem []byte) error {
			found = tc.RootCAs.AppendCertsFromPEM(pem) || found
			return nil
		})
		if err != nil {
			return nil, fileFieldErr(ctx, "ssl_ca_path", err)
		}
		if !found {
			return nil, fieldErr("ssl_ca_path", fmt.Errorf("%w: the directory holds no PEM certificate", ErrBadConfig))
		}
	}
	if t.CertFile != "" {
		certPEM, err := readPEM(ctx, "ssl_certfile", t.CertFile)
		if err != nil {
			return nil, err
		}
		keyPEM := certPEM // no ssl_keyfile: the key is in the certificate file, as in Python's ssl
		if t.KeyFile != "" {
			if keyPEM, err = readPEM(ctx, "ssl_keyfile", t.KeyFile); err != nil {
				return nil, err
			}
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fieldErr("ssl_certfile", fmt.Errorf("%w: the files do not hold a certificate and its key (ssl_certfile, ssl_keyfile): %v", ErrBadConfig, err))
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

// NewClient makes the go-redis client the config describes: a *redis.ClusterClient for KindCluster, a
// *redis.Client otherwise (from redis.NewFailoverClient for KindSentinel), from the options Options,
// ClusterOptions or FailoverOptions return. Every client it makes has ContextTimeoutEnabled, so a
// context's deadline bounds each call, and a hook that makes the error of a call whose context has
// ended match ctx.Err() (go-redis reports a deadline it set on the socket as an i/o timeout). It makes
// no retries unless MaxRetries asks for them, and dials once per connection unless DialRetries asks for
// more (go-redis dials up to 5 times, 100 ms apart, so a host that is down cost every call 400 ms). A
// config that turns TLS verification off (Insecure) is refused with a *ConfigError wrapping
// ErrInsecureTLS: use NewClientAllowInsecure where the application, not the config store, has decided
// to allow it. A Config built or changed by hand is held to ParseConfig's rules first (see StoredJSON).
//
// NewClient reads the config's TLS files, if any. Each must be a regular file (a FIFO, a device or a
// socket is refused before it is read, as a *ConfigError naming the field) of at most 1 MiB, and an
// ssl_ca_path directory holds at most 4096 entries and 16 MiB of files, so NewClient cannot block.
func (c *Config) NewClient() (redis.UniversalClient, error) {
	return c.newClient(context.Background(), false)
}

// NewClientAllowInsecure is NewClient that also makes a client whose config turns TLS verification off.
func (c *Config) NewClientAllowInsecure() (redis.UniversalClient, error) {
	return c.newClient(context.Background(), true)
}

// newClient is NewClient with ctx bounding the reads of the TLS files.
func (c *Config) newClient(ctx context.Context, allowInsecure bool) (redis.UniversalClient, error) {
	var client redis.UniversalClient
	switch c.Kind {
	case KindCluster:
		o, err := c.clusterOptions(ctx, allowInsecure)
		if err != nil {
			return nil, err
		}
		client = redis.NewClusterClient(o)
	case KindSentinel:
		o, err := c.failoverOptions(ctx, allowInsecure)
		if err != nil {
			return nil, err
		}
		client = redis.NewFailoverClient(o)
	default:
		o, err := c.options(ctx, allowInsecure)
		if err != nil {
			return nil, err
		}
		client = redis.NewClient(o)
	}
	client.AddHook(ctxErrHook{})
	return client, nil
}

// Options returns the go-redis options NewClient makes a KindSingle config's client from, TLS included
// (its files read as NewClient reads them), so a Registry's Options.NewClient hook can set what conn
// does not (OnConnect, a Limiter, a Dialer) and add hooks without rebuilding TLS by hand. It refuses
// what NewClient refuses (insecure TLS, a Config ParseConfig would not return), and a config of another
// kind with ErrKind. Each call returns new options, which the caller may change.
//
// A client made from them lacks only NewClient's ctx hook: a call on it whose context has ended may
// fail with go-redis's i/o timeout instead of an error matching ctx.Err(). Call, Do and the Wrap
// functions make fn's error match ctx.Err() whichever client it ran on.
func (c *Config) Options() (*redis.Options, error) { return c.options(context.Background(), false) }

// OptionsAllowInsecure is Options that also accepts a config turning TLS verification off.
func (c *Config) OptionsAllowInsecure() (*redis.Options, error) {
	return c.options(context.Background(), true)
}

// ClusterOptions is Options for a KindCluster config: the options of its *redis.ClusterClient.
func (c *Config) ClusterOptions() (*redis.ClusterOptions, error) {
	return c.clusterOptions(context.Background(), false)
}

// ClusterOptionsAllowInsecure is ClusterOptions that also accepts a config turning TLS verification off.
func (c *Config) ClusterOptionsAllowInsecure() (*redis.ClusterOptions, error) {
	return c.clusterOptions(context.Background(), true)
}

// FailoverOptions is Options for a KindSentinel config: the options redis.NewFailoverClient takes.
func (c *Config) FailoverOptions() (*redis.FailoverOptions, error) {
	return c.failoverOptions(context.Background(), false)
}

// FailoverOptionsAllowInsecure is FailoverOptions that also accepts a config turning TLS verification off.
func (c *Config) FailoverOptionsAllowInsecure() (*redis.FailoverOptions, error) {
	return c.failoverOptions(context.Background(), true)
}

// prepare checks c for building a client of kind and returns its TLS config, reading the files
// within ctx; host is the name to verify when the config names none.
func (c *Config) prepare(ctx context.Context, kind Kind, allowInsecure bool, host string) (*tls.Config, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.Kind != kind {
		want := map[Kind]string{KindSingle: "Options", KindCluster: "ClusterOptions", KindSentinel: "FailoverOptions"}
		return nil, fmt.Errorf("%w: the config is %v; %s makes a %v config's options", ErrKind, c.Kind, want[kind], kind)
	}
	if !allowInsecure && c.Insecure() {
		return nil, &ConfigError{Field: "ssl", Err: ErrInsecureTLS}
	}
	return c.tlsConfig(ctx, host)
}

// maxRetries is go-redis's MaxRetries for the config: -1 disables retries, and 0 would mean 3.
func (c *Config) maxRetries() int {
	if c.MaxRetries <= 0 {
		return -1
	}
	return c.MaxRetries
}

// dialerRetries is go-redis's DialerRetries for the config: the number of dials per connection, where
// 0 means go-redis's default (5).
func (c *Config) dialerRetries() int {
	if c.DialRetries < 0 {
		return 0 // dial_retries -1: go-redis's default
	}
	return c.DialRetries + 1
}

func (c *Config) options(ctx context.Context, allowInsecure bool) (*redis.Options, error) {
	host := ""
	if c.Network != "unix" {
		host, _, _ = net.SplitHostPort(c.Addr)
	}
	tc, err := c.prepare(ctx, KindSingle, allowInsecure, host)
	if err != nil {
		return nil, err
	}
	return &redis.Options{
		Network: c.Network, Addr: c.Addr, DB: c.DB,
		Username: c.Username, Password: c.Password, ClientName: c.ClientName,
		TLSConfig: tc, Protocol: c.Protocol, ContextTimeoutEnabled: true,
		DialTimeout: c.DialTimeout, ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout,
		DialerRetries: c.dialerRetries(), MaxRetries: c.maxRetries(),
		MinRetryBackoff: c.MinRetryBackoff, MaxRetryBackoff: c.MaxRetryBackoff,
		PoolFIFO: c.PoolFIFO, PoolSize: c.PoolSize, PoolTimeout: c.PoolTimeout,
		MinIdleConns: c.MinIdleConns, MaxIdleConns: c.MaxIdleConns, MaxActiveConns: c.MaxActiveConns,
		MaxConcurrentDials: c.MaxConcurrentDials, PipelinePoolSize: c.PipelinePoolSize,
		PipelineReadBufferSize: c.PipelineReadBufferSize, PipelineWriteBufferSize: c.PipelineWriteBufferSize,
		ConnMaxIdleTime: c.ConnMaxIdleTime, ConnMaxLifetime: c.ConnMaxLifetime, ConnMaxLifetimeJitter: c.ConnMaxLifetimeJitter,
	}, nil
}

func (c *Config) clusterOptions(ctx context.Context, allowInsecure bool) (*redis.ClusterOptions, error) {
	tc, err := c.prepare(ctx, KindCluster, allowInsecure, "")
	if err != nil {
		return nil, err
	}
	return &redis.ClusterOptions{
		Addrs: slices.Clone(c.Addrs), Username: c.Username, Password: c.Password, ClientName: c.ClientName,
		TLSConfig: tc, Protocol: c.Protocol, ContextTimeoutEnabled: true,
		DialTimeout: c.DialTimeout, ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout,
		DialerRetries: c.dialerRetries(), MaxRetries: c.maxRetries(),
		MinRetryBackoff: c.MinRetryBackoff, MaxRetryBackoff: c.MaxRetryBackoff,
		PoolFIFO: c.PoolFIFO, PoolSize: c.PoolSize, PoolTimeout: c.PoolTimeout,
		MinIdleConns: c.MinIdleConns, MaxIdleConns: c.MaxIdleConns, MaxActiveConns: c.MaxActiveConns,
		MaxConcurrentDials: c.MaxConcurrentDials, PipelinePoolSize: c.PipelinePoolSize,
		PipelineReadBufferSize: c.PipelineReadBufferSize, PipelineWriteBufferSize: c.PipelineWriteBufferSize,
		ConnMaxIdleTime: c.ConnMaxIdleTime, ConnMaxLifetime: c.ConnMaxLifetime, ConnMaxLifetimeJitter: c.ConnMaxLifetimeJitter,
		ReadOnly: c.ReadOnly, RouteByLatency: c.RouteByLatency, RouteRandomly: c.RouteRandomly,
	}, nil
}

func (c *Config) failoverOptions(ctx context.Context, allowInsecure bool) (*redis.FailoverOptions, error) {
	tc, err := c.prepare(ctx, KindSentinel, allowInsecure, "")
	if err != nil {
		return nil, err
	}
	return &redis.FailoverOptions{
		MasterName: c.Master, SentinelAddrs: slices.Clone(c.Addrs),
		SentinelUsername: c.SentinelUsername, SentinelPassword: c.SentinelPassword,
		Username: c.Username, Password: c.Password, DB: c.DB, ClientName: c.ClientName,
		TLSConfig: tc, Protocol: c.Protocol, ContextTimeoutEnabled: true,
		DialTimeout: c.DialTimeout, ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout,
		DialerRetries: c.dialerRetries(), MaxRetries: c.maxRetries(),
		MinRetryBackoff: c.MinRetryBackoff, MaxRetryBackoff: c.MaxRetryBackoff,
		PoolFIFO: c.PoolFIFO, PoolSize: c.PoolSize, PoolTimeout: c.PoolTimeout,
		MinIdleConns: c.MinIdleConns, MaxIdleConns: c.MaxIdleConns, MaxActiveConns: c.MaxActiveConns,
		MaxConcurrentDials: c.MaxConcurrentDials, PipelinePoolSize: c.PipelinePoolSize,
		PipelineReadBufferSize: c.PipelineReadBufferSize, PipelineWriteBufferSize: c.PipelineWriteBufferSize,
		ConnMaxIdleTime: c.ConnMaxIdleTime, ConnMaxLifetime: c.ConnMaxLifetime, ConnMaxLifetimeJitter: c.ConnMaxLifetimeJitter,
	}, nil
}

// ctxErrHook makes the error of a command (or pipeline) whose context has ended match ctx.Err().
// Replies (redis.Nil, error replies) are the server's answer and are left alone.
type ctxErrHook struct{}

func (ctxErrHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (ctxErrHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if noretry.Transport(err) {
			if e := noretry.CtxErr(ctx, err); e != err {
				cmd.SetErr(e)
				return e
			}
		}
		return err
	}
}

func (ctxErrHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err == nil {
			return nil
		}
		for _, cmd := range cmds {
			if ce := cmd.Err(); noretry.Transport(ce) {
				cmd.SetErr(noretry.CtxErr(ctx, ce))
			}
		}
		if noretry.Transport(err) {
			return noretry.CtxErr(ctx, err)
		}
		return err
	}
}
