package faultproxy_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/redistest/faultproxy"
)

// setup starts a real server, a proxy in front of it and a client through the proxy.
func setup(t *testing.T) (*redistest.Server, *faultproxy.Proxy, *redis.Client) {
	t.Helper()
	srv := redistest.RunT(t, nil)
	p := faultproxy.StartT(t, srv.Addr())
	c := redis.NewClient(p.ClientOptions(nil))
	t.Cleanup(func() { c.Close() })
	return srv, p, c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestPassThrough(t *testing.T) {
	srv, p, c := setup(t)
	ctx := ctxT(t, 30*time.Second)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := srv.Client(t).Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("direct GET k = %q, %v; want v", got, err)
	}
	if p.Upstream() != srv.Addr() || !strings.HasPrefix(p.Addr(), "127.0.0.1:") || p.Addr() == srv.Addr() {
		t.Fatalf("Addr %s, Upstream %s; server %s", p.Addr(), p.Upstream(), srv.Addr())
	}
}

// The round trip through a latency toxic is at least the two configured latencies: a lower bound
// (a loaded machine only adds time).
func TestLatencyBothWays(t *testing.T) {
	_, p, _ := setup(t)
	ctx := ctxT(t, 30*time.Second)
	if _, err := p.Latency(faultproxy.Both, 15*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	rtt, err := p.RTT(ctx, nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	if rtt.Min < 30*time.Millisecond {
		t.Fatalf("rtt %v; want at least 30ms with 15ms each way", rtt)
	}
	// Remove it: the round trip falls below what one way alone would add.
	p.RemoveAll()
	rtt, err = p.RTT(ctx, nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	if rtt.Min >= 15*time.Millisecond {
		t.Fatalf("rtt after RemoveAll %v; want the latency gone", rtt)
	}
}

func TestLatencyOneWayAndRemove(t *testing.T) {
	_, p, _ := setup(t)
	ctx := ctxT(t, 30*time.Second)
	tox, err := p.Latency(faultproxy.Downstream, 20*time.Millisecond, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if n := tox.Names(); len(n) != 1 || !strings.HasPrefix(n[0], "latency_downstream") {
		t.Fatalf("names %v; want one downstream latency", n)
	}
	rtt, err := p.RTT(ctx, nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	if rtt.Min < 15*time.Millisecond { // 20 ± 5
		t.Fatalf("rtt %v; want at least 15ms", rtt)
	}
	if err := tox.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := tox.Remove(); err == nil {
		t.Fatal("second Remove succeeded; want an error naming the missing toxic")
	}
}

// 64 KB at 64 KB/s takes about a second; it cannot take less than half of that.
func TestBandwidth(t *testing.T) {
	srv, p, c := setup(t)
	ctx := ctxT(t, 30*time.Second)
	val := strings.Repeat("x", 64_000)
	if err := srv.Client(t).Set(ctx, "big", val, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil { // connect before the limit
		t.Fatal(err)
	}
	if _, err := p.Bandwidth(faultproxy.Downstream, 64); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := c.Get(ctx, "big").Result()
	if err != nil || got != val {
		t.Fatalf("GET big: %d bytes, %v; want %d bytes", len(got), err, len(val))
	}
	if el := time.Since(start); el < 500*time.Millisecond {
		t.Fatalf("64 KB at 64 KB/s took %v; want at least 500ms", el)
	}
}

func TestResetPeer(t *testing.T) {
	srv, p, c := setup(t)
	ctx := ctxT(t, 30*time.Second)
	tox, err := p.ResetPeer(faultproxy.Upstream, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Set(ctx, "k", "v", 0).Err()
	if err == nil {
		t.Fatal("SET through reset_peer succeeded; want a connection error")
	}
	if !errors.Is(err, syscall.ECONNRESET) && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("SET error %v; want a reset or EOF", err)
	}
	if n, err := srv.Client(t).Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS k = %d, %v; want 0: the command was cut before the server", n, err)
	}
	if err := tox.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET after removing reset_peer: %v", err)
	}
}

// A black hole holds the connection and drops the data: the call ends at the context's deadline,
// not with a connection error.
func TestBlackHole(t *testing.T) {
	_, p, c := setup(t)
	ctx := ctxT(t, 30*time.Second)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	tox, err := p.BlackHole(faultproxy.Both)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err = c.Ping(short).Err()
	if !errors.Is(err, context.DeadlineExceeded) {
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("PING into a black hole: %v; want a deadline error", err)
		}
	}
	if err := tox.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after the black hole: %v", err)
	}
}

// Timeout with a duration closes the connection once it has passed.
func TestTimeoutCloses(t *testing.T) {
	_, p, c := setup(t)
	ctx := ctxT(t, 30*time.Second)
	if _, err := p.Timeout(faultproxy.Downstream, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	err := c.Ping(ctx).Err()
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PING through timeout 50ms: %v; want the connection closed", err)
	}
}

// limit_data cuts a reply mid-stream: the client gets an error, never a short value.
func TestLimitDataCutsMidStream(t *testing.T) {
	srv, p, c := setup(t)
	ctx := ctxT(t, 30*time.Second)
	val := strings.Repeat("v", 1000)
	if err := srv.Client(t).Set(ctx, "k", val, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.LimitData(faultproxy.Downstream, 100); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "k").Result()
	if err == nil {
		t.Fatalf("GET through a 100-byte limit returned %d bytes and no error", len(got))
	}
}

// The slicer delivers a reply in small pieces; the client reassembles it intact.
func TestSlicerKeepsData(t *testing.T) {
	srv, p, c := setup(t)
	ctx := ctxT(t, 30*time.Second)
	val := strings.Repeat("0123456789", 300)
	if err := srv.Client(t).Set(ctx, "k", val, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Slicer(faultproxy.Downstream, 64, 32, 10*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "k").Result()
	if err != nil || got != val {
		t.Fatalf("GET through slicer: %d bytes, %v; want %d bytes intact", len(got), err, len(val))
	}
}

func TestDisableRefusesEnableRestores(t *testing.T) {
	_, p, c := setup(t)
	ctx := ctxT(t, 30*time.Second)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.Disable()
	if p.Enabled() {
		t.Fatal("Enabled after Disable")
	}
	fresh := redis.NewClient(p.ClientOptions(nil))
	defer fresh.Close()
	if err := fresh.Ping(ctx).Err(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("PING on a disabled proxy: %v; want connection refused", err)
	}
	if err := p.Enable(); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Enable: %v", err)
	}
	// The old client's pooled connection was closed by Disable: its next call fails once, then redials.
	c.Ping(ctx)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING on the old client after Enable: %v", err)
	}
}

func TestProbabilisticToxicAndClose(t *testing.T) {
	_, p, c := setup(t)
	ctx := ctxT(t, 30*time.Second)
	// Toxicity 0 means the default, 1; toxicity is drawn per connection.
	tox, err := p.Add(faultproxy.ToxicSpec{Type: "latency", Direction: faultproxy.Upstream, Toxicity: 1,
		Attributes: map[string]any{"latency": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := tox.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := p.Latency(faultproxy.Both, time.Millisecond, 0); !errors.Is(err, faultproxy.ErrClosed) {
		t.Fatalf("Latency on a closed proxy: %v; want ErrClosed", err)
	}
	if err := p.Enable(); !errors.Is(err, faultproxy.ErrClosed) {
		t.Fatalf("Enable on a closed proxy: %v; want ErrClosed", err)
	}
}

func TestBadInput(t *testing.T) {
	ctx := ctxT(t, 30*time.Second)
	for _, up := range []string{"10.0.0.1:6379", "example.com:6379", "192.168.1.1:1"} {
		if _, err := faultproxy.Start(ctx, up); !errors.Is(err, faultproxy.ErrNotLoopback) {
			t.Errorf("Start(%q): %v; want ErrNotLoopback", up, err)
		}
		if _, err := faultproxy.StartDelay(ctx, up, 0); !errors.Is(err, faultproxy.ErrNotLoopback) {
			t.Errorf("StartDelay(%q): %v; want ErrNotLoopback", up, err)
		}
	}
	for _, up := range []string{"", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:x", "/tmp/redis.sock"} {
		if _, err := faultproxy.Start(ctx, up); !errors.Is(err, faultproxy.ErrInvalid) {
			t.Errorf("Start(%q): %v; want ErrInvalid", up, err)
		}
	}
	if _, err := faultproxy.StartDelay(ctx, "127.0.0.1:6379", -time.Microsecond); !errors.Is(err, faultproxy.ErrInvalid) {
		t.Errorf("StartDelay(-1µs): %v; want ErrInvalid", err)
	}
	if _, err := faultproxy.MeasureRTT(ctx, &redis.Options{Addr: "127.0.0.1:1"}, 0); !errors.Is(err, faultproxy.ErrInvalid) {
		t.Errorf("MeasureRTT(n=0): %v; want ErrInvalid", err)
	}
	if _, err := faultproxy.MeasureRTT(ctx, nil, 3); !errors.Is(err, faultproxy.ErrInvalid) {
		t.Errorf("MeasureRTT(nil): %v; want ErrInvalid", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := faultproxy.Start(canceled, "127.0.0.1:6379"); !errors.Is(err, context.Canceled) {
		t.Errorf("Start(canceled): %v; want context.Canceled", err)
	}

	p := faultproxy.StartT(t, "127.0.0.1:6379") // nothing needs to listen there to add toxics
	bad := []struct {
		name string
		add  func() (faultproxy.Toxic, error)
	}{
		{"sub-ms latency", func() (faultproxy.Toxic, error) { return p.Latency(faultproxy.Both, 1500*time.Microsecond, 0) }},
		{"negative latency", func() (faultproxy.Toxic, error) { return p.Latency(faultproxy.Both, -time.Millisecond, 0) }},
		{"sub-ms jitter", func() (faultproxy.Toxic, error) {
			return p.Latency(faultproxy.Both, time.Millisecond, time.Microsecond)
		}},
		{"zero bandwidth", func() (faultproxy.Toxic, error) { return p.Bandwidth(faultproxy.Both, 0) }},
		{"bad direction", func() (faultproxy.Toxic, error) { return p.Bandwidth(faultproxy.Direction(7), 10) }},
		{"negative limit", func() (faultproxy.Toxic, error) { return p.LimitData(faultproxy.Both, -1) }},
		{"slicer size 0", func() (faultproxy.Toxic, error) { return p.Slicer(faultproxy.Both, 0, 0, 0) }},
		{"sub-ms reset", func() (faultproxy.Toxic, error) { return p.ResetPeer(faultproxy.Both, time.Microsecond) }},
		{"unknown type", func() (faultproxy.Toxic, error) { return p.Add(faultproxy.ToxicSpec{Type: "gremlin"}) }},
		{"toxicity 2", func() (faultproxy.Toxic, error) { return p.Add(faultproxy.ToxicSpec{Type: "latency", Toxicity: 2}) }},
		{"bad attribute", func() (faultproxy.Toxic, error) {
			return p.Add(faultproxy.ToxicSpec{Type: "latency", Attributes: map[string]any{"latency": "soon"}})
		}},
	}
	for _, tc := range bad {
		if _, err := tc.add(); !errors.Is(err, faultproxy.ErrInvalid) {
			t.Errorf("%s: %v; want ErrInvalid", tc.name, err)
		}
	}
	// A failed Add leaves no toxic behind: the same kind can still be added and removed.
	tox, err := p.Latency(faultproxy.Both, time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tox.Names()) != 2 {
		t.Fatalf("Both made %v; want two toxics", tox.Names())
	}
	if err := tox.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := (faultproxy.Toxic{}).Remove(); !errors.Is(err, faultproxy.ErrInvalid) {
		t.Errorf("zero Toxic Remove: %v; want ErrInvalid", err)
	}
}
