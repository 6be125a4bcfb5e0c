package faultproxy_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/ports"
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

func TestPassThrough(t *testing.T) {
	srv, p, c := setup(t)
	ctx := t.Context()
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
	ctx := t.Context()
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
	if err := p.RemoveAll(ctx); err != nil {
		t.Fatal(err)
	}
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
	ctx := t.Context()
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
	if err := tox.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tox.Remove(ctx); err == nil {
		t.Fatal("second Remove succeeded; want an error naming the missing toxic")
	}
}

// 64 KB at 64 KB/s takes about a second; it cannot take less than half of that.
func TestBandwidth(t *testing.T) {
	srv, p, c := setup(t)
	ctx := t.Context()
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
	ctx := t.Context()
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
	if err := tox.Remove(ctx); err != nil {
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
	ctx := t.Context()
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
	if err := tox.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after the black hole: %v", err)
	}
}

// Timeout with a duration closes the connection once it has passed.
func TestTimeoutCloses(t *testing.T) {
	_, p, c := setup(t)
	ctx := t.Context()
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
	ctx := t.Context()
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
	ctx := t.Context()
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
	ctx := t.Context()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// Enable listens on the same port again: it must be one no outgoing connection can take meanwhile.
	if r := ports.Proxies; !inRange(t, p.Addr(), r.Base, r.Base+r.Span-1) {
		t.Fatalf("proxy listens on %s; want a port of ports.Proxies %v, below the ephemeral range", p.Addr(), r)
	}
	if err := p.Disable(); err != nil {
		t.Fatal(err)
	}
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
	ctx := t.Context()
	// Toxicity 0 means the default, 1; toxicity is drawn per connection.
	tox, err := p.Add(faultproxy.ToxicSpec{Type: "latency", Direction: faultproxy.Upstream, Toxicity: 1,
		Attributes: map[string]any{"latency": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := tox.Remove(ctx); err != nil {
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
	ctx := t.Context()
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
	if err := tox.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if err := (faultproxy.Toxic{}).Remove(ctx); !errors.Is(err, faultproxy.ErrInvalid) {
		t.Errorf("zero Toxic Remove: %v; want ErrInvalid", err)
	}
}

// stalled returns a proxy in front of srv whose downstream link cannot move: a client asked for a
// 32 MB reply through a latency toxic and does not read it, so the toxic is blocked handing data to
// a writer blocked on a full socket. Changing the toxics then deadlocks inside Toxiproxy.
func stalled(t *testing.T, ctx context.Context, srv *redistest.Server) *faultproxy.Proxy {
	t.Helper()
	p := faultproxy.StartT(t, srv.Addr())
	if _, err := p.Latency(faultproxy.Downstream, time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	raw, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if _, err := raw.Write([]byte("CLIENT SETNAME stalled\r\nGET big\r\nGET big\r\n")); err != nil {
		t.Fatal(err)
	}
	// The server keeps what it cannot send in the client's output buffer: once that stays the same,
	// non-empty, for a while, nothing moves along the chain behind it.
	direct := srv.Client(t)
	var last string
	for same := 0; same < 10; {
		list, err := direct.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		omem := ""
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, "name=stalled") {
				for _, f := range strings.Fields(line) {
					if strings.HasPrefix(f, "omem=") {
						omem = f
					}
				}
			}
		}
		if omem != "" && omem != "omem=0" && omem == last {
			same++
		} else {
			same = 0
		}
		last = omem
		select {
		case <-ctx.Done():
			t.Fatalf("the stalled client's replies never backed up (%s)", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return p
}

// Toxiproxy deadlocks when a toxic is removed or added while a link's data cannot move, and ignores
// its context. Remove and the calls without a ctx give up at their deadline with ErrStuck, then the
// proxy refuses changes at once, and Close still returns.
func TestChangesOnAStalledLinkAreBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a bound: the test waits for a condition
	defer cancel()
	srv := redistest.RunT(t, nil)
	if err := srv.Client(t).Set(ctx, "big", strings.Repeat("x", 32<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	// The errors say what ended each call: ErrStuck with DeadlineExceeded is a call given up on at its
	// deadline, ErrStuck alone one refused at once. Not returning at all fails the test by its timeout.
	const d = 500 * time.Millisecond
	bounded := func(what string, err error, start time.Time) {
		t.Helper()
		if !errors.Is(err, faultproxy.ErrStuck) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v; want ErrStuck and context.DeadlineExceeded", what, err)
		}
		if el := time.Since(start); el < d { // a lower bound: it holds however loaded the machine is
			t.Errorf("%s returned after %v; want its deadline %v", what, el, d)
		}
	}

	p := stalled(t, ctx, srv)
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	bounded("Remove", p.RemoveAll(rctx), start)
	if !p.Stuck() {
		t.Error("Stuck() = false after a removal was given up on")
	}
	if _, err := p.Latency(faultproxy.Both, time.Millisecond, 0); !errors.Is(err, faultproxy.ErrStuck) ||
		errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Latency on a stuck proxy: %v; want ErrStuck at once, not at a deadline", err)
	}
	if err := p.Disable(); !errors.Is(err, faultproxy.ErrStuck) {
		t.Errorf("Disable on a stuck proxy: %v; want ErrStuck", err)
	}

	q := stalled(t, ctx, srv)
	q.SetTimeout(d)
	start = time.Now()
	_, err := q.BlackHole(faultproxy.Downstream)
	bounded("BlackHole (SetTimeout)", err, start)

	for _, px := range []*faultproxy.Proxy{p, q} {
		px.SetTimeout(2 * time.Second)
		if err := px.Close(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close of a stuck proxy: %v; want nil or its timeout's DeadlineExceeded", err)
		}
		if _, err := net.DialTimeout("tcp", px.Addr(), time.Second); err == nil && px.Enabled() {
			t.Errorf("stuck proxy %s still accepts connections after Close", px.Addr())
		}
	}
}

// localhost is accepted once resolved to loopback.
func TestLocalhostUpstream(t *testing.T) {
	ctx := t.Context()
	srv := redistest.RunT(t, nil)
	p, err := faultproxy.Start(ctx, net.JoinHostPort("localhost", strconv.Itoa(srv.Port())))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := redis.NewClient(p.ClientOptions(nil))
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING through a proxy to localhost: %v", err)
	}
}

func inRange(t *testing.T, addr string, lo, hi int) bool {
	_, ps, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		t.Fatal(err)
	}
	return port >= lo && port <= hi
}

// Enable waits out a port held for a moment after Disable, and names the port when it stays held.
func TestEnableWhilePortHeld(t *testing.T) {
	_, p, _ := setup(t)
	if err := p.Disable(); err != nil {
		t.Fatal(err)
	}
	hold := func() net.Listener {
		l, err := net.Listen("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := hold()
	released := make(chan struct{})
	time.AfterFunc(100*time.Millisecond, func() { l.Close(); close(released) })
	if err := p.Enable(); err != nil {
		t.Fatalf("Enable with the port held for 100 ms: %v", err)
	}
	<-released
	if !p.Enabled() {
		t.Fatal("not Enabled after Enable")
	}

	if err := p.Disable(); err != nil {
		t.Fatal(err)
	}
	defer hold().Close()
	err := p.Enable()
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), p.Addr()) || p.Enabled() {
		t.Fatalf("Enable with the port held for good: %v, Enabled %v; want address in use naming %s", err, p.Enabled(), p.Addr())
	}
}
