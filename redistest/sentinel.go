package redistest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// SentinelOptions configure a Sentinel.
type SentinelOptions struct {
	// MasterName is the name the Sentinel monitors the master under.
	// default: "mymaster"
	MasterName string

	// DownAfter is down-after-milliseconds: how long the master may be unreachable before it is
	// considered down and a replica promoted.
	// default: 1 second
	DownAfter time.Duration

	// FailoverTimeout is failover-timeout.
	// default: 5 seconds
	FailoverTimeout time.Duration

	// Server holds the process options (Executable, StartTimeout, Host, Port).
	Server Options
}

// RunSentinel starts a Sentinel (redis-server --sentinel) that monitors master with quorum 1, and
// waits until it has discovered the master's replicas. Its config file lives in its directory, since a
// Sentinel rewrites it. Its ping period is set to a tenth of DownAfter (at most its default, 1 second)
// with SENTINEL DEBUG, which a restart of the Sentinel does not keep (see pingPeriod).
func RunSentinel(ctx context.Context, master *Server, opt *SentinelOptions) (*Server, error) {
	var o SentinelOptions
	if opt != nil {
		o = *opt
	}
	if o.MasterName == "" {
		o.MasterName = "mymaster"
	}
	if o.DownAfter <= 0 {
		o.DownAfter = time.Second
	}
	if o.FailoverTimeout <= 0 {
		o.FailoverTimeout = 5 * time.Second
	}
	if err := sentinelWord("SentinelOptions.MasterName", o.MasterName); err != nil {
		return nil, err
	}
	if err := sentinelWord("the master's Password", master.opt.Password); err != nil {
		return nil, err
	}
	so := o.Server
	so.Unix, so.AOF, so.TLS = false, false, false
	so.sentinel = []string{
		fmt.Sprintf("sentinel monitor %s %s %d 1", quote(o.MasterName), master.opt.Host, master.Port()),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", quote(o.MasterName), o.DownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", quote(o.MasterName), o.FailoverTimeout.Milliseconds()),
	}
	if master.opt.Password != "" {
		so.sentinel = append(so.sentinel, fmt.Sprintf("sentinel auth-pass %s %s", quote(o.MasterName), quote(master.opt.Password)))
		so.secrets = append(append([]string(nil), so.secrets...), master.opt.Password)
	}
	s, err := Run(ctx, &so)
	if err != nil {
		return nil, err
	}
	c := s.NewClient()
	defer c.Close()
	// A Sentinel older than 7.0 refuses SENTINEL DEBUG and keeps its 1 s period.
	if err := c.Do(ctx, "SENTINEL", "DEBUG", "ping-period", pingPeriod(o.DownAfter).Milliseconds()).Err(); err != nil && !noretry.IsErrorReply(err) {
		s.Close()
		return nil, noretry.CtxErr(ctx, fmt.Errorf("redistest: sentinel %s: SENTINEL DEBUG ping-period: %w", s.Addr(), err))
	}
	err = poll(ctx, func() error {
		replicas, err := c.Do(ctx, "SENTINEL", "REPLICAS", o.MasterName).Slice()
		if err != nil {
			return err
		}
		if len(replicas) == 0 {
			return fmt.Errorf("sentinel %s has not discovered a replica yet", s.Addr())
		}
		return nil
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// pingPeriod is the Sentinel's ping period for downAfter. The Sentinel also reconnects to an instance
// at most once a ping period, and after a failover it counts down-after for the new master from the
// switch. Its last attempt to reach a killed master can fall in the very tick of the switch: with
// both 1 s, it connects to the healthy new master in the tick where down-after has passed, takes it
// for down before its first PING can be answered, and fails over again (5 SIGKILL failovers in 40,
// none in 40 with a tenth). A tenth leaves the new master most of down-after to answer, as the
// defaults (30 s and 1 s) do in production.
func pingPeriod(downAfter time.Duration) time.Duration {
	return min(max(downAfter/10, time.Millisecond), time.Second)
}

// RunSentinelT is RunSentinel for a test.
func RunSentinelT(t testing.TB, master *Server, opt *SentinelOptions) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := RunSentinel(ctx, master, opt)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sentinelWord refuses a master name or password that a Sentinel cannot keep. It stores them as C
// strings (a NUL byte cuts them short), and when it rewrites its config file, which it does at once
// and on every change, it writes them unquoted: whitespace or a quote would make the file unreadable
// at the next start. The message names the byte's position, never the value (it may be a secret).
func sentinelWord(what, s string) error {
	if i := strings.IndexAny(s, " \t\n\r\v\f\x00\"'"); i >= 0 {
		return fmt.Errorf("%w: %s has whitespace, a quote or NUL at byte %d: a Sentinel rewrites its config file unquoted and could not read it back",
			ErrInvalid, what, i)
	}
	return nil
}

func (s *Server) sentinelConfig() string {
	lines := []string{
		"daemonize no",
		"dir " + quote(s.dir),
		"logfile " + quote(filepath.Join(s.dir, "redis.log")),
		"bind " + s.opt.Host,
		fmt.Sprintf("port %d", s.port),
	}
	lines = append(lines, s.opt.sentinel...)
	lines = append(lines, s.opt.Config...)
	return strings.Join(lines, "\n") + "\n"
}

// SentinelMaster asks a Sentinel which address it currently knows as the master's. It returns by
// ctx's deadline, even when the Sentinel hangs.
func SentinelMaster(ctx context.Context, sentinel *Server, masterName string) (string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: sentinel.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	addr, err := c.GetMasterAddrByName(ctx, masterName).Result()
	if err != nil {
		// An i/o timeout from ctx's deadline is ctx's error.
		return "", noretry.CtxErr(ctx, fmt.Errorf("redistest: sentinel %s: master %q: %w", sentinel.Addr(), masterName, err))
	}
	if len(addr) != 2 {
		return "", fmt.Errorf("redistest: sentinel %s: master %q: unexpected reply %q", sentinel.Addr(), masterName, addr)
	}
	return net.JoinHostPort(addr[0], addr[1]), nil
}
