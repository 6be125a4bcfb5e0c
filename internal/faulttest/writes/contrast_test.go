package writes_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/tokens"
	"github.com/ria-go/ria/uniquevisits"
)

// dropReply is a go-redis hook whose connections lose the reply to the first request that contains
// command (as go-redis writes it: "\r\nzincrby\r\n"): it waits until the reply's first bytes arrive,
// which proves the server ran the command, then closes the connection and fails the read, as a dead
// peer would (go-redis reports the closed connection, and by default retries). Deterministic: no timing
// is involved.
type dropReply struct {
	command []byte
	armed   atomic.Bool
	dropped atomic.Int64
}

func newDropReply(command string) *dropReply {
	d := &dropReply{command: []byte("\r\n" + command + "\r\n")}
	d.armed.Store(true)
	return d
}

func (d *dropReply) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &dropConn{Conn: c, d: d}, nil
	}
}
func (d *dropReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (d *dropReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

type dropConn struct {
	net.Conn
	d       *dropReply
	mu      sync.Mutex
	pending bool // the request was written: drop its reply
}

func (c *dropConn) Write(b []byte) (int, error) {
	if bytes.Contains(bytes.ToLower(b), c.d.command) && c.d.armed.CompareAndSwap(true, false) {
		c.mu.Lock()
		c.pending = true
		c.mu.Unlock()
	}
	return c.Conn.Write(b)
}

func (c *dropConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	pending := c.pending
	c.pending = false
	c.mu.Unlock()
	if !pending {
		return c.Conn.Read(b)
	}
	if _, err := c.Conn.Read(b); err != nil { // the reply: the command ran
		return 0, err
	}
	c.d.dropped.Add(1)
	c.Conn.Close()
	return 0, io.EOF
}

// clients returns, for srv, go-redis's default client (MaxRetries 3: only the address set) and a client
// made by conn (no retries), each with hook.
func clients(t *testing.T, srv *redistest.Server, hookDefault, hookConn redis.Hook) (def, viaConn redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	d := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	d.AddHook(hookDefault)
	t.Cleanup(func() { d.Close() })
	cfg := srv.Client(t)
	reg, err := conn.New(cfg, &conn.Options{Prefix: "config:test:", NewClient: func(_ string, c *conn.Config) (redis.UniversalClient, error) {
		u, err := c.NewClient()
		if err == nil {
			u.AddHook(hookConn)
		}
		return u, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	if err := reg.SetConfig(ctx, "w", map[string]any{"addr": srv.Addr()}); err != nil {
		t.Fatal(err)
	}
	c, err := reg.Client(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	return d, c
}

// TestLostReplyNeverAppliedTwice: each write's reply is lost once, after the server ran it.
// go-redis's default client resends a command after the EOF (MaxRetries 3), so a plain INCR runs twice
// while the caller is told it succeeded once: final = 2 > acknowledged + unknown = 1. That control row
// proves the loss is real. The toolkit's non-idempotent writes are marked never to be resent
// (internal/noretry), so on the default client as on conn's (no retries) the loss is reported as an
// unknown outcome and applied once: final = 1 <= 0 + 1, the bound the fault test holds to.
func TestLostReplyNeverAppliedTwice(t *testing.T) {
	srv := redistest.RunT(t, nil)
	audit := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type outcome struct{ acked, unknown, final int }
	once := outcome{acked: 0, unknown: 1, final: 1}
	visitors := func() int {
		n, err := uniquevisits.Count(ctx, audit, day)
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	views := func() int { return int(-audit.ZScore(ctx, "viewed:", "item").Val()) }
	for _, tc := range []struct {
		name    string
		command string
		run     func(c redis.UniversalClient) (acked, unknown bool, err error)
		final   func() int
		want    map[string]outcome // by client
	}{
		{"control: plain INCR", "incr", func(c redis.UniversalClient) (bool, bool, error) {
			err := c.Incr(ctx, "n").Err()
			return err == nil, err != nil, err
		}, func() int { n, _ := audit.Get(ctx, "n").Int(); return n },
			map[string]outcome{"default": {acked: 1, unknown: 0, final: 2}, "conn": once}},
		{"tokens ZINCRBY", "zincrby", func(c redis.UniversalClient) (bool, bool, error) {
			_, err := tokens.UpdateToken(ctx, c, "tok", "user", "item")
			return err == nil, errors.Is(err, tokens.ErrUnknownOutcome), err
		}, views, map[string]outcome{"default": once, "conn": once}},
		{"tokens pipeline", "zincrby", func(c redis.UniversalClient) (bool, bool, error) {
			_, err := tokens.UpdateTokenPipeline(ctx, c, "tok", "user", "item")
			return err == nil, errors.Is(err, tokens.ErrUnknownOutcome), err
		}, views, map[string]outcome{"default": once, "conn": once}},
		{"uniquevisits INCR", "incr", func(c redis.UniversalClient) (bool, bool, error) {
			v, err := uniquevisits.CountVisit(ctx, c, "0123456789abcdef0123456789abcdef", day)
			return err == nil && v.New, errors.Is(err, uniquevisits.ErrUncounted), err
		}, visitors, map[string]outcome{"default": once, "conn": once}},
		// A resent SADD would answer 0 ("already counted") and skip the INCR: the visit is lost
		// silently. Not resent, the error says so, and Recount restores the exact count.
		{"uniquevisits SADD", "sadd", func(c redis.UniversalClient) (bool, bool, error) {
			v, err := uniquevisits.CountVisit(ctx, c, "0123456789abcdef0123456789abcdef", day)
			return err == nil && v.New, err != nil, err
		}, visitors, map[string]outcome{"default": {acked: 0, unknown: 1, final: 0}, "conn": {acked: 0, unknown: 1, final: 0}}},
		// A resent PFADD would answer 0: "not new" for the visitor the lost first send added.
		{"uniquevisits PFADD", "pfadd", func(c redis.UniversalClient) (bool, bool, error) {
			changed, err := uniquevisits.CountVisitHLL(ctx, c, "0123456789abcdef0123456789abcdef", day)
			return err == nil && changed, errors.Is(err, uniquevisits.ErrUnknownOutcome), err
		}, func() int { n, _ := uniquevisits.UniqueHLL(ctx, audit, day); return int(n) },
			map[string]outcome{"default": once, "conn": once}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hd, hc := newDropReply(tc.command), newDropReply(tc.command)
			def, viaConn := clients(t, srv, hd, hc)
			for _, c := range []struct {
				name string
				c    redis.UniversalClient
			}{{"default", def}, {"conn", viaConn}} {
				if err := audit.FlushDB(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				acked, unknown, err := tc.run(c.c)
				var o outcome
				if acked {
					o.acked = 1
				}
				if unknown {
					o.unknown = 1
				}
				o.final = tc.final()
				t.Logf("%s client: error %v; acknowledged %d, unknown %d, final %d", c.name, err, o.acked, o.unknown, o.final)
				if want := tc.want[c.name]; o != want {
					t.Errorf("%s client: %+v; want %+v", c.name, o, want)
				}
			}
			if hd.dropped.Load() != 1 || hc.dropped.Load() != 1 {
				t.Fatalf("replies dropped: %d default, %d conn; want 1 each", hd.dropped.Load(), hc.dropped.Load())
			}
		})
	}
}

// TestLostPurchaseReplyIsUnknownOnAnyClient is the same setting for the market's script, where no
// contrast is left: a default client would run the purchase script again after losing its reply (the
// second run finding the item sold, a refusal reported for a purchase that happened), but the market
// marks its script calls not to be resent, so with the default client as through conn the caller is
// told ErrUnknownOutcome, and the purchase happened once.
func TestLostPurchaseReplyIsUnknownOnAnyClient(t *testing.T) {
	srv := redistest.RunT(t, nil)
	audit := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hd, hc := newDropReply("evalsha"), newDropReply("evalsha")
	hd.armed.Store(false) // armed just before the purchase
	hc.armed.Store(false)
	drop := map[string]*dropReply{"default": hd, "conn": hc}
	def, viaConn := clients(t, srv, hd, hc)
	for _, c := range []struct {
		name string
		c    redis.UniversalClient
		want error
	}{{"default", def, market.ErrUnknownOutcome}, {"conn", viaConn, market.ErrUnknownOutcome}} {
		t.Run(c.name, func(t *testing.T) {
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(audit.FlushDB(ctx).Err())
			must(audit.HSet(ctx, "users:seller", "funds", 0).Err())
			must(audit.HSet(ctx, "users:buyer", "funds", 100).Err())
			must(audit.SAdd(ctx, "inventory:seller", "item").Err())
			_, err := market.ListItemScript(ctx, c.c, "item", "seller", 30)
			must(err)
			// Load the purchase script (a refused purchase), so the request that loses its reply is
			// the EVALSHA that buys.
			if _, err := market.PurchaseItemScript(ctx, c.c, "buyer", "nothing", "seller", 1); !errors.Is(err, market.ErrNotListed) {
				t.Fatalf("loading the script: %v", err)
			}
			drop[c.name].armed.Store(true)
			_, err = market.PurchaseItemScript(ctx, c.c, "buyer", "item", "seller", 30)
			if !errors.Is(err, c.want) {
				t.Fatalf("purchase: %v; want %v", err, c.want)
			}
			// Either way the purchase happened, once.
			if got := audit.HGet(ctx, "users:buyer", "funds").Val(); got != "70" {
				t.Errorf("buyer's funds %s; want 70", got)
			}
			if !audit.SIsMember(ctx, "inventory:buyer", "item").Val() {
				t.Error("the item is not in the buyer's inventory")
			}
			t.Logf("%s client: %v (the purchase happened)", c.name, err)
		})
	}
	if hd.dropped.Load() != 1 || hc.dropped.Load() != 1 {
		t.Fatalf("replies dropped: %d default, %d conn; want 1 each", hd.dropped.Load(), hc.dropped.Load())
	}
}
