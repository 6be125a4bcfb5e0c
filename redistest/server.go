// Package redistest starts real redis-server processes for tests and benchmarks: one server, N shards,
// a master with a replica, or a Redis Cluster, each node of which can be killed, paused and restarted.
//
// It is the Go analogue of rb's testing.TestSetup. Servers get a free port (or a unix socket), their own
// temporary directory and a configuration written to redis-server's standard input; Run returns once the
// server answers PING. RunT and friends register cleanup with the test and fail it (never skip it) when a
// server cannot be started; they give the start a fixed deadline (one or two minutes). Installed says
// beforehand whether redis-server can be found.
//
// Every call that waits for a server takes a ctx and returns by its deadline, even when the server
// hangs (Pause): starting, restarting, WaitLinkUp, the Cluster's queries and SentinelMaster. Kill,
// Stop and Close take none: they signal the process and need nothing from it (Stop kills a server
// that has not exited after 30 s).
package redistest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ria-go/ria/internal/ports"
)

// Options configure one redis-server.
type Options struct {
	// Unix makes the server listen on a unix socket only (port 0).
	// default: false (TCP on 127.0.0.1)
	Unix bool

	// AOF turns on the append-only file with appendfsync everysec.
	// default: false
	AOF bool

	// Password sets requirepass (the default user's password). Any bytes: it is written to
	// redis.conf in an escaped form the server reads back exactly.
	// default: none
	Password string

	// Config holds extra redis.conf lines, appended after the ones redistest writes,
	// so they win ("save 60 1", "maxmemory 64mb", "cluster-enabled yes", ...). Each is one line as
	// redis.conf reads it: a newline or NUL byte in one is ErrInvalid.
	Config []string

	// Executable is the redis-server binary.
	// default: $RIA_REDIS_SERVER, else "redis-server" from PATH
	Executable string

	// StartTimeout bounds how long a start or restart may take before it is an error.
	// default: 15 seconds
	StartTimeout time.Duration

	// Host is the loopback address to bind: an IP literal on loopback (127.0.0.1, ::1); anything else
	// is refused with ErrInvalid, so a test server is never reachable from another machine.
	// default: 127.0.0.1
	Host string

	// Port is the TCP port. Zero picks a free one. Only Run takes a fixed port: the topologies
	// (RunShards, RunReplicated, RunCluster) start several servers and refuse it (ErrInvalid).
	Port int

	// TLS makes the server speak TLS only on its port, with a CA and certificates generated for the
	// test (see Server.TLSFiles). Clients need not present a certificate unless TLSAuthClients is set.
	// default: false
	TLS bool

	// TLSAuthClients requires clients to present a certificate signed by the test CA.
	// default: false
	TLSAuthClients bool

	// needBusPort makes the port picker also reserve port+10000 (the cluster bus).
	needBusPort bool

	// sentinel holds the monitoring lines of a Sentinel; set by RunSentinel.
	sentinel []string

	// secrets are other passwords in the config (a Sentinel's master's), masked in logs like Password.
	secrets []string
}

func (o *Options) init() {
	if o.Executable == "" {
		o.Executable = defaultExecutable()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 15 * time.Second
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
}

// ErrNotInstalled is returned (wrapped) when the redis-server binary cannot be found.
var ErrNotInstalled = errors.New("redistest: redis-server is not installed: run `make test` " +
	"(it installs it), or `sudo apt-get install -y redis-server redis-tools` on Debian/Ubuntu, " +
	"or set RIA_REDIS_SERVER to the binary")

// ErrNotRunning is returned by operations that need a live process.
var ErrNotRunning = errors.New("redistest: server is not running")

// ErrInvalid is returned (wrapped, naming the option) for options that cannot work: a host off
// loopback, a fixed port for several servers, a unix socket for a topology that needs TCP.
var ErrInvalid = errors.New("redistest: invalid options")

// checkHost accepts only loopback IP literals: redis-server binds what it is given, and a name
// would have to be resolved (and could resolve off loopback).
func checkHost(host string) error {
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: Host %q is not a loopback IP address (127.0.0.1, ::1)", ErrInvalid, host)
	}
	return nil
}

// checkConfig refuses Config lines that redis.conf cannot read as one line: the config text is split
// at newlines, and redis-server reads its standard input as a C string, which ends at a NUL byte.
func checkConfig(lines []string) error {
	for i, l := range lines {
		if j := strings.IndexAny(l, "\n\x00"); j >= 0 {
			return fmt.Errorf("%w: Config[%d] has byte %#x at %d: a redis.conf line holds no newline or NUL (write them as \\xHH inside double quotes)",
				ErrInvalid, i, l[j], j)
		}
	}
	return nil
}

// Server is one redis-server process. Its port, socket and data directory stay the same across restarts.
type Server struct {
	opt    Options
	dir    string // data directory and log; removed by Close
	port   int
	socket string
	tls    *TLSFiles

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	paused bool
	closed bool
}

// Run starts a redis-server and waits until it answers PING.
func Run(ctx context.Context, opt *Options) (*Server, error) {
	var o Options
	if opt != nil {
		o = *opt
		o.Config = append([]string(nil), opt.Config...)
	}
	o.init()
	if err := checkHost(o.Host); err != nil {
		return nil, err
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("%w: Port %d", ErrInvalid, o.Port)
	}
	if err := checkConfig(o.Config); err != nil {
		return nil, err
	}
	bin, err := lookPath(o.Executable) // the lookup Installed does
	if err != nil {
		return nil, err
	}
	o.Executable = bin

	dir, err := os.MkdirTemp("", "ria-redis-") // short: unix socket paths are limited to 107 bytes
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	s := &Server{opt: o, dir: dir}
	if o.Unix {
		s.socket = filepath.Join(dir, "redis.sock")
	}
	if o.TLS {
		if o.Unix {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("%w: TLS needs TCP (Unix must be false)", ErrInvalid)
		}
		if s.tls, err = writeTLSFiles(dir); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("redistest: generating certificates: %w", err)
		}
	}

	switch {
	case o.Unix:
		err = s.start(ctx)
	case o.Port != 0:
		s.port = o.Port
		err = s.start(ctx)
	default: // a free port, picked again when another process binds it first
		r := ports.Servers
		if o.needBusPort {
			r = ports.ClusterNodes
		}
		inUse := func(err error) bool { return errors.Is(err, errAddrInUse) }
		_, err = ports.Listen(o.Host, r, o.needBusPort, inUse, func(p int) error { s.port = p; return s.start(ctx) })
		if errors.Is(err, ports.ErrNoFreePort) {
			err = fmt.Errorf("redistest: %w", err)
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// RunT starts a server for a test or benchmark, fails it when the server cannot start,
// and closes the server when the test ends.
func RunT(t testing.TB, opt *Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Run(ctx, opt)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Addr is host:port for TCP servers and the socket path for unix ones.
func (s *Server) Addr() string {
	if s.socket != "" {
		return s.socket
	}
	return net.JoinHostPort(s.opt.Host, strconv.Itoa(s.port))
}

// Network is "tcp" or "unix".
func (s *Server) Network() string {
	if s.socket != "" {
		return "unix"
	}
	return "tcp"
}

// Port is the TCP port, 0 for a unix-socket server.
func (s *Server) Port() int { return s.port }

// Dir is the server's data directory (RDB, AOF, nodes.conf and redis.log).
func (s *Server) Dir() string { return s.dir }

// Password is the server's requirepass.
func (s *Server) Password() string { return s.opt.Password }

// TLSFiles returns the certificate files of a TLS server, nil for a plain one.
func (s *Server) TLSFiles() *TLSFiles { return s.tls }

// Options are go-redis options for this server, with short timeouts suited to tests.
// ContextTimeoutEnabled is on, so a context's deadline bounds every call even when the server is paused,
// and retries are off, as in clients made by conn.
// For a TLS server they trust the test CA, present the client certificate and verify the name
// "localhost", which the server's certificate carries whatever address it listens on.
func (s *Server) Options() *redis.Options {
	var tc *tls.Config
	if s.tls != nil {
		var err error
		if tc, err = s.tls.ClientConfig("localhost"); err != nil {
			panic("redistest: " + err.Error()) // the files were written by Run and are ours
		}
	}
	return &redis.Options{
		TLSConfig:             tc,
		Network:               s.Network(),
		Addr:                  s.Addr(),
		Password:              s.opt.Password,
		DialTimeout:           2 * time.Second,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1, // a retried INCR whose reply was lost is applied twice
	}
}

// NewClient returns a new client for this server; the caller closes it.
func (s *Server) NewClient() *redis.Client { return redis.NewClient(s.Options()) }

// Client returns a new client that is closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client { return s.ClientWith(t, nil) }

// ClientWith returns a new client that is closed when the test ends, with change (if not nil)
// applied to a copy of Options first: a pool size, a client name, a hook's settings.
func (s *Server) ClientWith(t testing.TB, change func(*redis.Options)) *redis.Client {
	opt := s.Options()
	if change != nil {
		change(opt)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// PID is the process id, or 0 when the server is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.runningLocked() {
		return 0
	}
	return s.cmd.Process.Pid
}

// Running reports whether the process is alive (it may be paused).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runningLocked()
}

func (s *Server) runningLocked() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the process to exit: nothing is saved, as in a crash. It takes no
// ctx because it needs nothing from the server: a SIGKILL cannot be caught, and a paused process dies
// too, so it returns as soon as the kernel has reaped the process.
func (s *Server) Kill() error { return s.signalAndWait(syscall.SIGKILL) }

// Stop sends SIGTERM (and SIGCONT to a paused process) and waits: redis-server saves (when configured
// to) and exits cleanly. A server that has not exited after stopTimeout (30 s) is killed and Stop
// returns an error, so Stop is bounded even when the save hangs.
func (s *Server) Stop() error { return s.signalAndWait(syscall.SIGTERM) }

// stopTimeout bounds a clean shutdown; past it the process is killed.
const stopTimeout = 30 * time.Second

func (s *Server) signalAndWait(sig syscall.Signal) error {
	s.mu.Lock()
	if !s.runningLocked() {
		s.mu.Unlock()
		return ErrNotRunning
	}
	cmd, exited, paused := s.cmd, s.exited, s.paused
	s.paused = false
	s.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("redistest: signal %v to %s: %w", sig, s.Addr(), err)
	}
	if paused && sig != syscall.SIGKILL {
		_ = cmd.Process.Signal(syscall.SIGCONT) // a stopped process cannot handle SIGTERM
	}
	select {
	case <-exited:
		return nil
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("redistest: %s did not exit after %v; killed", s.Addr(), sig)
	}
}

// Pause stops the process with SIGSTOP: connections stay open but nothing is answered,
// like a server that hangs or a network that drops packets.
func (s *Server) Pause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.runningLocked() {
		return ErrNotRunning
	}
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("redistest: pause %s: %w", s.Addr(), err)
	}
	s.paused = true
	return nil
}

// Resume continues a paused process with SIGCONT.
func (s *Server) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.runningLocked() {
		return ErrNotRunning
	}
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("redistest: resume %s: %w", s.Addr(), err)
	}
	s.paused = false
	return nil
}

// Restart kills the process if it is running, then starts it again on the same port, socket and data
// directory, with the same configuration, and waits until it answers (and has loaded its data).
func (s *Server) Restart(ctx context.Context) error {
	if s.Running() {
		if err := s.Kill(); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("redistest: restart %s: server is closed", s.Addr())
	}
	return s.start(ctx)
}

// Close kills the process (see Kill: bounded without a ctx) and removes its directory. It is safe to
// call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if err := s.Kill(); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	return os.RemoveAll(s.dir)
}

// Log returns the last lines of the server's log, for failure messages.
func (s *Server) Log() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return s.redact(strings.Join(lines, "\n"))
}

// redact masks the passwords in text from the server's logs: redis-server quotes a config line it
// cannot read, and that line may hold a password.
func (s *Server) redact(text string) string {
	for _, pw := range append([]string{s.opt.Password}, s.opt.secrets...) {
		if pw == "" {
			continue
		}
		// Longest form first: the quoted one contains the raw one when nothing needed escaping.
		text = strings.ReplaceAll(text, quote(pw), `"[redacted]"`)
		text = strings.ReplaceAll(text, pw, "[redacted]")
	}
	return text
}
