package redistest_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

// timedOut reports whether err is a deadline passing (ctx's, or the socket's that go-redis sets from it).
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func TestServerFaults(t *testing.T) {
	for _, unix := range []bool{false, true} {
		name := map[bool]string{false: "tcp", true: "unix"}[unix]
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := redistest.RunT(t, &redistest.Options{Unix: unix})
			if got, want := s.Network(), name; got != want {
				t.Fatalf("Network() = %q; want %q", got, want)
			}
			c := s.Client(t)
			if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}

			// Paused: the connection stays open but nothing answers.
			if err := s.Pause(); err != nil {
				t.Fatal(err)
			}
			short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := c.Ping(short).Err()
			cancel()
			if err == nil {
				t.Fatal("PING answered while the server was paused")
			}
			if err := s.Resume(); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
				t.Fatalf("after resume GET k = %q, %v; want v", got, err)
			}

			// Killed: nothing was persisted (no AOF, no save), so a restart comes back empty.
			addr := s.Addr()
			if err := s.Kill(); err != nil {
				t.Fatal(err)
			}
			if s.Running() {
				t.Fatal("Running() after Kill")
			}
			if err := c.Ping(ctx).Err(); err == nil {
				t.Fatal("PING answered after Kill")
			}
			if err := s.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if s.Addr() != addr {
				t.Fatalf("restart moved the server from %s to %s", addr, s.Addr())
			}
			if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
				t.Fatalf("EXISTS k after restart = %d, %v; want 0 (no persistence)", n, err)
			}
		})
	}
}

func TestAOFSurvivesKill(t *testing.T) {
	ctx := t.Context()
	// appendfsync always makes the write durable before the reply, so the test need not sleep.
	s := redistest.RunT(t, &redistest.Options{AOF: true, Config: []string{"appendfsync always"}})
	c := s.Client(t)
	if err := c.Set(ctx, "k", "durable", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "durable" {
		t.Fatalf("GET k after kill and restart = %q, %v; want durable", got, err)
	}
}

func TestStopThenRestartKeepsSnapshot(t *testing.T) {
	ctx := t.Context()
	s := redistest.RunT(t, &redistest.Options{Config: []string{"save 3600 1"}})
	c := s.Client(t)
	if err := c.Set(ctx, "k", "saved", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil { // SIGTERM: redis saves an RDB on shutdown when save points exist
		t.Fatal(err)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "saved" {
		t.Fatalf("GET k after stop and restart = %q, %v; want saved", got, err)
	}
}

func TestPassword(t *testing.T) {
	ctx := t.Context()
	s := redistest.RunT(t, &redistest.Options{Password: "s3cret"})
	if err := s.Client(t).Ping(ctx).Err(); err != nil {
		t.Fatalf("PING with the password: %v", err)
	}
	o := s.Options()
	o.Password = ""
	c := redis.NewClient(o)
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("SET without the password: err = %v; want NOAUTH", err)
	}
}

func TestNotInstalled(t *testing.T) {
	_, err := redistest.Run(context.Background(), &redistest.Options{Executable: "/nonexistent/redis-server"})
	if !errors.Is(err, redistest.ErrNotInstalled) {
		t.Fatalf("err = %v; want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "apt-get install -y redis-server") {
		t.Fatalf("error %q does not say how to install redis-server", err)
	}
}

func TestBadConfigReportsLog(t *testing.T) {
	_, err := redistest.Run(context.Background(), &redistest.Options{Config: []string{"no-such-directive yes"}})
	if err == nil {
		t.Fatal("a server with a bad config line started")
	}
	if !strings.Contains(err.Error(), "no-such-directive") {
		t.Fatalf("error does not show the server's complaint: %v", err)
	}
}

func TestShards(t *testing.T) {
	ctx := t.Context()
	g := redistest.RunShardsT(t, 4, nil)
	seen := map[string]bool{}
	for i, s := range g {
		if seen[s.Addr()] {
			t.Fatalf("two shards on %s", s.Addr())
		}
		seen[s.Addr()] = true
		if err := s.Client(t).Set(ctx, "shard", i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Shard 1 paused, shard 2 killed: the others answer, those two do not.
	if err := g[1].Pause(); err != nil {
		t.Fatal(err)
	}
	if err := g[2].Kill(); err != nil {
		t.Fatal(err)
	}
	for i, s := range g {
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		got, err := s.Client(t).Get(short, "shard").Int()
		cancel()
		switch i {
		case 1:
			if !timedOut(err) {
				t.Fatalf("paused shard: GET = %d, %v; want a timeout", got, err)
			}
		case 2:
			if err == nil {
				t.Fatal("killed shard answered")
			}
		default:
			if err != nil || got != i {
				t.Fatalf("shard %d: GET = %d, %v; want %d (shards must be independent)", i, got, err, i)
			}
		}
	}
	// Resumed, shard 1 has its data; restarted, shard 2 is back on its address, empty (no persistence).
	if err := g[1].Resume(); err != nil {
		t.Fatal(err)
	}
	if got, err := g[1].Client(t).Get(ctx, "shard").Int(); err != nil || got != 1 {
		t.Fatalf("resumed shard: GET = %d, %v; want 1", got, err)
	}
	addr := g[2].Addr()
	if err := g[2].Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if g[2].Addr() != addr {
		t.Fatalf("restart moved shard 2 from %s to %s", addr, g[2].Addr())
	}
	if n, err := g[2].Client(t).Exists(ctx, "shard").Result(); err != nil || n != 0 {
		t.Fatalf("restarted shard: EXISTS = %d, %v; want 0", n, err)
	}
}

// Options that cannot work are refused before anything starts.
func TestBadOptions(t *testing.T) {
	ctx := t.Context()
	for _, host := range []string{"0.0.0.0", "10.0.0.1", "localhost", "example.com", "::"} {
		if _, err := redistest.Run(ctx, &redistest.Options{Host: host}); !errors.Is(err, redistest.ErrInvalid) {
			t.Errorf("Run with Host %q: %v; want ErrInvalid", host, err)
		}
	}
	for _, port := range []int{-1, 65536} {
		if _, err := redistest.Run(ctx, &redistest.Options{Port: port}); !errors.Is(err, redistest.ErrInvalid) {
			t.Errorf("Run with Port %d: %v; want ErrInvalid", port, err)
		}
	}
	fixed := &redistest.Options{Port: 21000}
	if _, err := redistest.RunShards(ctx, 2, fixed); !errors.Is(err, redistest.ErrInvalid) {
		t.Errorf("RunShards with a fixed port: %v; want ErrInvalid", err)
	}
	if _, err := redistest.RunReplicated(ctx, fixed); !errors.Is(err, redistest.ErrInvalid) {
		t.Errorf("RunReplicated with a fixed port: %v; want ErrInvalid", err)
	}
	if _, err := redistest.RunCluster(ctx, &redistest.ClusterOptions{Server: *fixed}); !errors.Is(err, redistest.ErrInvalid) {
		t.Errorf("RunCluster with a fixed port: %v; want ErrInvalid", err)
	}
	if _, err := redistest.RunShards(ctx, 0, nil); !errors.Is(err, redistest.ErrInvalid) {
		t.Errorf("RunShards of 0 servers: %v; want ErrInvalid", err)
	}
	// ::1 is loopback: a server binds it (when the machine has IPv6 on loopback).
	if s, err := redistest.Run(ctx, &redistest.Options{Host: "::1"}); err == nil {
		if err := s.Client(t).Ping(ctx).Err(); err != nil {
			t.Errorf("PING a server on ::1: %v", err)
		}
		s.Close()
	} else if errors.Is(err, redistest.ErrInvalid) {
		t.Errorf("Run with Host ::1: %v; want it accepted", err)
	}
}

func TestReplicated(t *testing.T) {
	for _, aof := range []bool{false, true} {
		t.Run(map[bool]string{false: "rdb", true: "aof"}[aof], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a bound: the test waits for a condition
			defer cancel()
			r := redistest.RunReplicatedT(t, &redistest.Options{AOF: aof})
			m, rc := r.Master.Client(t), r.Replica.Client(t)
			info, err := rc.Info(ctx, "persistence").Result()
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{false: "aof_enabled:0", true: "aof_enabled:1"}[aof]; !strings.Contains(info, want) {
				t.Fatalf("replica INFO persistence lacks %s", want)
			}
			if err := m.Set(ctx, "k", "v1", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if n, err := m.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
				t.Fatalf("WAIT 1 = %d, %v; want 1", n, err)
			}
			if got, err := rc.Get(ctx, "k").Result(); err != nil || got != "v1" {
				t.Fatalf("replica GET k = %q, %v; want v1", got, err)
			}

			// A paused replica answers nothing while the master goes on; resumed, it catches up.
			if err := r.Replica.Pause(); err != nil {
				t.Fatal(err)
			}
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err = rc.Ping(short).Err()
			cancel()
			if !timedOut(err) {
				t.Fatalf("PING of the paused replica: %v; want a timeout", err)
			}
			if err := m.Set(ctx, "k", "paused", 0).Err(); err != nil {
				t.Fatalf("master SET with its replica paused: %v", err)
			}
			if err := r.Replica.Resume(); err != nil {
				t.Fatal(err)
			}
			if n, err := m.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
				t.Fatalf("WAIT 1 after resume = %d, %v; want 1", n, err)
			}
			if got, err := rc.Get(ctx, "k").Result(); err != nil || got != "paused" {
				t.Fatalf("resumed replica GET k = %q, %v; want paused", got, err)
			}

			// A killed replica misses writes; restarted, it resyncs on its own.
			if err := r.Replica.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := m.Set(ctx, "k", "v2", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := r.Replica.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if err := redistest.WaitLinkUp(ctx, r.Replica); err != nil {
				t.Fatal(err)
			}
			if got, err := rc.Get(ctx, "k").Result(); err != nil || got != "v2" {
				t.Fatalf("restarted replica GET k = %q, %v; want v2", got, err)
			}

			// A killed master: with AOF its acknowledged writes survive the restart (they were in
			// the kernel before the reply); without, it comes back empty and the replica, resyncing
			// from it, loses them too.
			if err := m.Set(ctx, "k", "v3", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if n, err := m.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
				t.Fatalf("WAIT 1 = %d, %v; want 1", n, err)
			}
			if err := r.Master.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := r.Master.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if err := redistest.WaitLinkUp(ctx, r.Replica); err != nil {
				t.Fatal(err)
			}
			want := map[bool]string{false: "", true: "v3"}[aof]
			for _, n := range []struct {
				name string
				c    *redis.Client
			}{{"master", m}, {"replica", rc}} {
				got, err := n.c.Get(ctx, "k").Result()
				if errors.Is(err, redis.Nil) {
					err = nil
				}
				if err != nil || got != want {
					t.Fatalf("%s GET k after the master's kill and restart = %q, %v; want %q", n.name, got, err, want)
				}
			}
		})
	}
}

func TestTLS(t *testing.T) {
	ctx := t.Context()
	s := redistest.RunT(t, &redistest.Options{TLS: true, TLSAuthClients: true})
	if err := s.Client(t).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET over TLS: %v", err)
	}
	// A plain-text client gets nowhere.
	o := s.Options()
	o.TLSConfig = nil
	plain := redis.NewClient(o)
	defer plain.Close()
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := plain.Ping(short).Err(); err == nil {
		t.Fatal("a plain-text client was answered by a TLS-only server")
	}
	// Without a client certificate the server refuses (tls-auth-clients yes).
	o = s.Options()
	o.TLSConfig.Certificates = nil
	anon := redis.NewClient(o)
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil {
		t.Fatal("a client without a certificate was answered")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatalf("restart a TLS server: %v", err)
	}
}

// ClientWith applies the change to the server's options, and closes the client when the test ends.
func TestClientWith(t *testing.T) {
	s := redistest.RunT(t, nil)
	var c *redis.Client
	t.Run("client", func(t *testing.T) {
		c = s.ClientWith(t, func(o *redis.Options) { o.PoolSize = 3; o.ClientName = "with" })
		if got := c.Options().PoolSize; got != 3 {
			t.Errorf("PoolSize = %d; want 3", got)
		}
		if got := c.Options().MaxRetries; got != 0 { // go-redis stores -1 (no retries) as 0
			t.Errorf("MaxRetries = %d; want 0 (none), as in Options", got)
		}
		if got, err := c.ClientGetName(t.Context()).Result(); err != nil || got != "with" {
			t.Errorf("CLIENT GETNAME = %q, %v; want with", got, err)
		}
	})
	if err := c.Ping(t.Context()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("PING after the test that made the client: %v; want redis.ErrClosed", err)
	}
	if got := s.ClientWith(t, nil).Options().Addr; got != s.Addr() {
		t.Errorf("ClientWith(nil) Addr = %q; want %q", got, s.Addr())
	}
}

// A server that cannot bind its port, another process's redis-server holding it, fails to start
// rather than taking that server for its own (its PING answers): two test processes that picked
// the same free port would otherwise share one server's data.
func TestPortHeldByAnotherServer(t *testing.T) {
	other := redistest.RunT(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := redistest.Run(ctx, &redistest.Options{Port: other.Port()})
	if err == nil {
		s.Close()
		t.Fatalf("Run on %s, held by another server, started; want an error", other.Addr())
	}
	if !strings.Contains(err.Error(), "already in use") && !strings.Contains(err.Error(), "another process") {
		t.Errorf("Run on a held port: %v; want it to say the port is taken", err)
	}
	if err := other.Client(t).Ping(ctx).Err(); err != nil {
		t.Errorf("the other server: %v", err)
	}
}
