package conn_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
)

// dialCounter counts the dials of the clients it is added to.
type dialCounter struct{ n atomic.Int64 }

func (d *dialCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.n.Add(1)
		return next(ctx, network, addr)
	}
}
func (d *dialCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (d *dialCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// refusedAddr is a loopback address nothing listens on: dialing it is refused at once.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// closingListener accepts and at once closes every connection, counting them: a sentinel that is
// reachable but never answers. go-redis counts its master dials through it (one sentinel query each).
func closingListener(t *testing.T) (addr string, accepts *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepts = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), accepts
}

// dialsPerCall makes the client the config describes, sends one PING per call to its dead server,
// and returns the dials each call made.
func dialsPerCall(t *testing.T, kind, retries string, calls int) []int64 {
	t.Helper()
	var cfgJSON string
	var count func() int64
	counter := &dialCounter{}
	switch kind {
	case "single":
		cfgJSON = fmt.Sprintf(`{"addr": %q%s}`, refusedAddr(t), retries)
		count = counter.n.Load
	case "cluster":
		cfgJSON = fmt.Sprintf(`{"cluster": [%q]%s}`, refusedAddr(t), retries)
		count = counter.n.Load
	case "sentinel":
		addr, accepts := closingListener(t)
		cfgJSON = fmt.Sprintf(`{"sentinel": {"master": "m", "addrs": [%q]}%s}`, addr, retries)
		count = accepts.Load
	}
	cfg, err := conn.ParseConfig([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	switch c := c.(type) {
	case *redis.ClusterClient:
		c.OnNewNode(func(node *redis.Client) { node.AddHook(counter) })
	case *redis.Client:
		if kind == "single" {
			c.AddHook(counter)
		}
	}
	var per []int64
	for range calls {
		before := count()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			t.Fatalf("%s: PING to a dead server succeeded", kind)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: PING ran out of time (%v): the dial count would be cut short", kind, err)
		}
		per = append(per, count()-before)
	}
	return per
}

// A call to a server that is down dials once by default (go-redis's default is 5 dials, 100 ms
// apart), and 1+n times with dial_retries n; -1 restores go-redis's default.
func TestDialsPerCallToDeadServer(t *testing.T) {
	for _, kind := range []string{"single", "cluster", "sentinel"} {
		for _, tc := range []struct {
			retries string
			want    int64
		}{
			{"", 1},
			{`, "dial_retries": 0`, 1},
			{`, "dial_retries": 2`, 3},
			{`, "dial_retries": -1`, 5},
		} {
			t.Run(kind+tc.retries, func(t *testing.T) {
				calls := 3
				if tc.want > 1 {
					calls = 1 // each retry waits go-redis's 100 ms backoff
				}
				for i, n := range dialsPerCall(t, kind, tc.retries, calls) {
					if n != tc.want {
						t.Fatalf("call %d dialed %d times; want %d", i, n, tc.want)
					}
				}
			})
		}
	}
}

// Property: for random kinds and dial_retries n, one call to a dead server dials exactly n+1 times.
func TestPropertyDialRetries(t *testing.T) {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	kinds := []string{"single", "cluster", "sentinel"}
	for range 6 {
		kind, n := kinds[r.IntN(len(kinds))], r.IntN(4)
		got := dialsPerCall(t, kind, fmt.Sprintf(`, "dial_retries": %d`, n), 1)
		if got[0] != int64(n)+1 {
			t.Fatalf("%s, dial_retries %d: %d dials; want %d", kind, n, got[0], n+1)
		}
	}
}

// Every kind's go-redis options carry the dial count, the sentinel's own options included.
func TestDialerRetriesOptions(t *testing.T) {
	for _, tc := range []struct {
		json string
		want int
	}{
		{`{"addr": "h:1"}`, 1},
		{`{"addr": "h:1", "dial_retries": 4}`, 5},
		{`{"cluster": ["h:1"]}`, 1},
		{`{"cluster": ["h:1"], "dial_retries": 2}`, 3},
		{`{"sentinel": {"master": "m", "addrs": ["h:1"]}}`, 1},
		{`{"url": "redis://h:1/0"}`, 1},
		{`{"addr": "h:1", "dial_retries": -1}`, 5}, // go-redis fills in its default
	} {
		cfg, err := conn.ParseConfig([]byte(tc.json))
		if err != nil {
			t.Fatal(err)
		}
		c, err := cfg.NewClient()
		if err != nil {
			t.Fatal(err)
		}
		var got int
		switch c := c.(type) {
		case *redis.Client:
			got = c.Options().DialerRetries
		case *redis.ClusterClient:
			got = c.Options().DialerRetries
			if got == 0 {
				got = 5
			}
		}
		c.Close()
		if got != tc.want {
			t.Errorf("%s: DialerRetries %d; want %d", tc.json, got, tc.want)
		}
	}
}
