package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/ports"
)

// Direction says which way a toxic acts.
type Direction int

const (
	// Both applies the toxic to requests and replies (two toxics, one each way).
	Both Direction = iota
	// Upstream is client to server: the commands.
	Upstream
	// Downstream is server to client: the replies.
	Downstream
)

func (d Direction) String() string {
	switch d {
	case Both:
		return "both"
	case Upstream:
		return "upstream"
	case Downstream:
		return "downstream"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

func (d Direction) streams() ([]string, error) {
	switch d {
	case Both:
		return []string{"upstream", "downstream"}, nil
	case Upstream:
		return []string{"upstream"}, nil
	case Downstream:
		return []string{"downstream"}, nil
	}
	return nil, fmt.Errorf("%w: direction %v", ErrInvalid, d)
}

// Proxy is a Toxiproxy proxy run in this process, listening on 127.0.0.1 and forwarding to one upstream.
// Toxics are added with its methods and take effect on open connections too. It is safe for concurrent use.
//
// Every method returns in bounded time. Toxiproxy can deadlock when a toxic is added or removed while
// a connection's data cannot move (a client that stopped reading, a writer that died mid-reply): the
// change waits for the link's toxics, which wait for the blocked data, and Toxiproxy's own context is
// not watched. So each change runs aside and is given up at its deadline: ctx's for Remove and
// RemoveAll, the proxy's timeout (SetTimeout) for the others. A change given up on leaves Toxiproxy
// holding its lock: the proxy is then stuck, and every later change fails at once with ErrStuck, until
// the change finishes after all (the blocked data moved) if it ever does; Close still releases what
// it can.
type Proxy struct {
	upstream string
	addr     string
	tp       *toxiproxy.Proxy
	seq      atomic.Int64
	timeout  atomic.Int64 // bounds the changes that take no ctx, nanoseconds
	stuck    atomic.Int64 // changes given up on that have not finished: they hold Toxiproxy's lock

	mu     sync.Mutex // serializes Enable, Disable and Close
	closed bool
}

// defaultTimeout bounds Add, the typed toxics, Disable, Enable and Close (see SetTimeout).
const defaultTimeout = 10 * time.Second

// Start starts a proxy in front of upstream (host:port on loopback). The caller closes it.
func Start(ctx context.Context, upstream string) (_ *Proxy, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }() // a lookup cut short by ctx is ctx's error
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkLoopback(ctx, upstream); err != nil {
		return nil, err
	}
	// No metrics, no logs: the proxy is a test fixture, its warnings ("source terminated") are expected.
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	tp, err := listen(srv, upstream)
	if err != nil {
		return nil, err
	}
	tp.Lock()
	addr := tp.Listen // the port actually bound
	tp.Unlock()
	p := &Proxy{upstream: upstream, addr: addr, tp: tp}
	p.timeout.Store(int64(defaultTimeout))
	return p, nil
}

// listen starts a Toxiproxy proxy on a port of ports.Proxies, out of the ephemeral range: Enable
// listens on it again after Disable, and an outgoing connection of any process could take an
// ephemeral port meanwhile.
func listen(srv *toxiproxy.ApiServer, upstream string) (tp *toxiproxy.Proxy, err error) {
	inUse := func(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
	_, err = ports.Listen("127.0.0.1", ports.Proxies, false, inUse, func(port int) error {
		tp = toxiproxy.NewProxy(srv, "faultproxy", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), upstream)
		return tp.Start()
	})
	if err != nil {
		return nil, fmt.Errorf("faultproxy: start: %w", err)
	}
	return tp, nil
}

// SetTimeout sets how long Add, the typed toxics (Latency, BlackHole, ...), Disable, Enable and Close
// may take before they give up with an error wrapping ErrStuck; they take no ctx. A non-positive d
// restores the default.
// default: 10 seconds
func (p *Proxy) SetTimeout(d time.Duration) {
	if d <= 0 {
		d = defaultTimeout
	}
	p.timeout.Store(int64(d))
}

// run calls f aside and waits for it until ctx ends; then the proxy is stuck until f returns.
func (p *Proxy) run(ctx context.Context, what string, f func() error) error {
	if p.Stuck() {
		return fmt.Errorf("faultproxy: %s: %w", what, ErrStuck)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("faultproxy: %s: %w", what, err)
	}
	var (
		mu                  sync.Mutex
		finished, abandoned bool
	)
	done := make(chan error, 1)
	go func() {
		err := f()
		mu.Lock()
		finished = true
		if abandoned {
			p.stuck.Add(-1) // the lock is free again
		}
		mu.Unlock()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return <-done
		}
		abandoned = true
		p.stuck.Add(1)
		return fmt.Errorf("faultproxy: %s: %w (%w)", what, ErrStuck, ctx.Err())
	}
}

// runTimeout is run bounded by the proxy's timeout.
func (p *Proxy) runTimeout(what string, f func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(p.timeout.Load()))
	defer cancel()
	return p.run(ctx, what, f)
}

// StartT starts a proxy for a test, fails the test if it cannot, and closes it when the test ends.
func StartT(t testing.TB, upstream string) *Proxy {
	t.Helper()
	p, err := Start(context.Background(), upstream)
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Addr is the proxy's listening address (127.0.0.1:port); it stays the same across Disable and Enable.
func (p *Proxy) Addr() string { return p.addr }

// Upstream is the address the proxy forwards to.
func (p *Proxy) Upstream() string { return p.upstream }

// ClientOptions returns go-redis options that connect through the proxy: a copy of base with Network and
// Addr replaced, or, when base is nil, options with ContextTimeoutEnabled, no retries and short timeouts.
func (p *Proxy) ClientOptions(base *redis.Options) *redis.Options { return clientOptions(base, p.addr) }

// RTT measures the round trip through the proxy: n PINGs on one connection (see MeasureRTT).
func (p *Proxy) RTT(ctx context.Context, base *redis.Options, n int) (RTT, error) {
	return MeasureRTT(ctx, p.ClientOptions(base), n)
}

// Toxic is a handle on toxics added together (one per direction); Remove takes them all away.
type Toxic struct {
	p     *Proxy
	names []string
}

// Names are the toxics' names in the proxy.
func (t Toxic) Names() []string { return append([]string(nil), t.names...) }

// Remove removes the toxics. Removing a black hole (Timeout 0) closes the connections it held.
// It returns by ctx's deadline: if Toxiproxy has not finished by then (it deadlocks when a link's data
// cannot move, see Proxy), the error wraps ErrStuck and ctx's error, and the proxy is stuck.
func (t Toxic) Remove(ctx context.Context) error {
	if t.p == nil {
		return fmt.Errorf("%w: zero Toxic", ErrInvalid)
	}
	for _, n := range t.names {
		err := t.p.run(ctx, "remove "+n, func() error { return t.p.tp.Toxics.RemoveToxic(context.Background(), n) })
		if err != nil {
			return fmt.Errorf("faultproxy: remove %s: %w", n, err)
		}
	}
	return nil
}

// removeQuietly undoes a partly added Toxic; the error that made it partial is the one to report.
func (t Toxic) removeQuietly() {
	if len(t.names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(t.p.timeout.Load()))
	defer cancel()
	_ = t.Remove(ctx)
}

// ToxicSpec describes any Toxiproxy toxic, for what the typed methods do not cover.
type ToxicSpec struct {
	// Type is the toxic's type: "latency", "bandwidth", "slow_close", "timeout", "reset_peer",
	// "slicer", "limit_data".
	Type string
	// Direction is the way it acts.
	// default: Both
	Direction Direction
	// Toxicity is the probability that a connection is affected (drawn per connection).
	// default: 1 (every connection)
	Toxicity float32
	// Attributes are the toxic's attributes as Toxiproxy names them ({"latency": 20, "jitter": 5}).
	Attributes map[string]any
}

// Add adds a toxic described by spec. Like the typed toxics built on it, it is bounded by the
// proxy's timeout (SetTimeout).
func (p *Proxy) Add(spec ToxicSpec) (Toxic, error) {
	streams, err := spec.Direction.streams()
	if err != nil {
		return Toxic{}, err
	}
	if spec.Toxicity < 0 || spec.Toxicity > 1 {
		return Toxic{}, fmt.Errorf("%w: toxicity %v is not in [0, 1]", ErrInvalid, spec.Toxicity)
	}
	if spec.Toxicity == 0 {
		spec.Toxicity = 1
	}
	if err := p.checkOpen(); err != nil {
		return Toxic{}, err
	}
	t := Toxic{p: p}
	for _, s := range streams {
		name := fmt.Sprintf("%s_%s_%d", spec.Type, s, p.seq.Add(1))
		body, err := json.Marshal(map[string]any{
			"name": name, "type": spec.Type, "stream": s, "toxicity": spec.Toxicity, "attributes": spec.Attributes,
		})
		if err != nil {
			t.removeQuietly()
			return Toxic{}, fmt.Errorf("%w: attributes: %v", ErrInvalid, err)
		}
		err = p.runTimeout("add "+name, func() error {
			if _, err := p.tp.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
				return fmt.Errorf("%w: toxic %q: %v", ErrInvalid, spec.Type, err)
			}
			return nil
		})
		if err != nil {
			t.removeQuietly()
			return Toxic{}, err
		}
		t.names = append(t.names, name)
	}
	return t, nil
}

// Latency delays data by latency ± jitter (uniform), in whole milliseconds: Toxiproxy's unit. For a
// sub-millisecond delay use DelayProxy. Each way adds its own latency, so Both doubles the round trip.
func (p *Proxy) Latency(dir Direction, latency, jitter time.Duration) (Toxic, error) {
	ms, err := wholeMS("latency", latency)
	if err != nil {
		return Toxic{}, err
	}
	jms, err := wholeMS("jitter", jitter)
	if err != nil {
		return Toxic{}, err
	}
	return p.Add(ToxicSpec{Type: "latency", Direction: dir, Attributes: map[string]any{"latency": ms, "jitter": jms}})
}

// Bandwidth limits each way it applies to to kbPerSec kilobytes (1000 bytes) per second.
// 1.8 Mbit/s is 225 KB/s.
func (p *Proxy) Bandwidth(dir Direction, kbPerSec int64) (Toxic, error) {
	if kbPerSec <= 0 {
		return Toxic{}, fmt.Errorf("%w: bandwidth %d KB/s is not positive", ErrInvalid, kbPerSec)
	}
	return p.Add(ToxicSpec{Type: "bandwidth", Direction: dir, Attributes: map[string]any{"rate": kbPerSec}})
}

// ResetPeer resets each connection (TCP RST) after after, counted from the first data that reaches
// the toxic. Connections opened after the toxic is added are reset with RST (linger 0); connections
// already open when it is added are closed with a FIN instead: Toxiproxy sets linger when a link starts.
func (p *Proxy) ResetPeer(dir Direction, after time.Duration) (Toxic, error) {
	ms, err := wholeMS("reset_peer timeout", after)
	if err != nil {
		return Toxic{}, err
	}
	return p.Add(ToxicSpec{Type: "reset_peer", Direction: dir, Attributes: map[string]any{"timeout": ms}})
}

// Timeout drops all data and closes the connection after after; zero keeps the connection open and
// drops data until the toxic is removed (then the connection is closed).
func (p *Proxy) Timeout(dir Direction, after time.Duration) (Toxic, error) {
	ms, err := wholeMS("timeout", after)
	if err != nil {
		return Toxic{}, err
	}
	return p.Add(ToxicSpec{Type: "timeout", Direction: dir, Attributes: map[string]any{"timeout": ms}})
}

// BlackHole drops all data and keeps connections open: a server that stopped answering.
func (p *Proxy) BlackHole(dir Direction) (Toxic, error) { return p.Timeout(dir, 0) }

// Slicer cuts data into pieces of averageSize ± variation bytes, sent delay apart (microseconds
// are kept): a stream cut mid-reply, that the client must reassemble.
func (p *Proxy) Slicer(dir Direction, averageSize, variation int, delay time.Duration) (Toxic, error) {
	if averageSize <= 0 || variation < 0 || delay < 0 {
		return Toxic{}, fmt.Errorf("%w: slicer size %d, variation %d, delay %v", ErrInvalid, averageSize, variation, delay)
	}
	return p.Add(ToxicSpec{Type: "slicer", Direction: dir, Attributes: map[string]any{
		"average_size": averageSize, "size_variation": variation, "delay": delay.Microseconds()}})
}

// LimitData closes each connection once n bytes have passed each way it applies to: a stream cut
// mid-stream.
func (p *Proxy) LimitData(dir Direction, n int64) (Toxic, error) {
	if n < 0 {
		return Toxic{}, fmt.Errorf("%w: limit_data %d bytes is negative", ErrInvalid, n)
	}
	return p.Add(ToxicSpec{Type: "limit_data", Direction: dir, Attributes: map[string]any{"bytes": n}})
}

// RemoveAll removes every toxic. It returns by ctx's deadline, like Toxic.Remove.
func (p *Proxy) RemoveAll(ctx context.Context) error {
	return p.run(ctx, "remove all toxics", func() error {
		p.tp.Toxics.ResetToxics(context.Background())
		return nil
	})
}

// Disable stops listening and closes every connection: new connections are refused until Enable.
// It is bounded by the proxy's timeout (SetTimeout).
func (p *Proxy) Disable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	return p.runTimeout("disable "+p.addr, func() error { p.tp.Stop(); return nil })
}

// Enable listens again on the same address, trying again for half a second while the port is in
// use. It is bounded by the proxy's timeout (SetTimeout).
func (p *Proxy) Enable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	return p.runTimeout("enable "+p.addr, func() error {
		p.tp.Lock()
		enabled := p.tp.Enabled
		p.tp.Unlock()
		if enabled {
			return nil
		}
		// The port can be held for a moment after Disable (seen under load, holder unknown): try
		// again for a while before giving up.
		err := p.tp.Start()
		for give := time.Now().Add(enableRetry); errors.Is(err, syscall.EADDRINUSE) && time.Now().Before(give); {
			time.Sleep(enableRetry / 50)
			err = p.tp.Start()
		}
		if err != nil {
			return fmt.Errorf("faultproxy: enable %s: %w", p.addr, err)
		}
		return nil
	})
}

// enableRetry is how long Enable tries again while its port is in use.
const enableRetry = 500 * time.Millisecond

// Enabled reports whether the proxy is accepting connections.
func (p *Proxy) Enabled() bool {
	p.tp.Lock()
	defer p.tp.Unlock()
	return p.tp.Enabled
}

// Close stops the proxy and closes its connections. It is safe to call more than once. It is bounded
// by the proxy's timeout (SetTimeout); a stuck proxy is still stopped, unless Toxiproxy's accept loop
// is itself waiting for the lock a stuck change holds (then Close returns an error wrapping ErrStuck
// and the listener stays open until the process exits).
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(p.timeout.Load()))
	defer cancel()
	done := make(chan struct{})
	go func() { p.tp.Stop(); close(done) }() // Stop does not need the lock a stuck change holds
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("faultproxy: close %s: %w (%w)", p.addr, ErrStuck, ctx.Err())
	}
}

// Stuck reports whether a change given up on still holds Toxiproxy's lock (see Proxy): the proxy
// then takes no more changes.
func (p *Proxy) Stuck() bool { return p.stuck.Load() > 0 }

func (p *Proxy) checkOpen() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	return nil
}

func wholeMS(what string, d time.Duration) (int64, error) {
	if d < 0 || d%time.Millisecond != 0 {
		return 0, fmt.Errorf("%w: %s %v is not a whole, non-negative number of milliseconds "+
			"(Toxiproxy's unit; use DelayProxy for sub-millisecond delays)", ErrInvalid, what, d)
	}
	return d.Milliseconds(), nil
}

// checkLoopback refuses anything but a loopback host:port: these proxies exist for tests on this machine.
// A name is resolved, and accepted only if every address it resolves to is on loopback ("localhost"
// in an /etc/hosts that maps it elsewhere is refused).
func checkLoopback(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: upstream %q: %v", ErrInvalid, addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("%w: upstream %q: bad port", ErrInvalid, addr)
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
		}
		return nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrNotLoopback, addr, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return fmt.Errorf("%w: %q resolves to %v", ErrNotLoopback, addr, ip.IP)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("%w: %q resolves to nothing", ErrNotLoopback, addr)
	}
	return nil
}

func clientOptions(base *redis.Options, addr string) *redis.Options {
	var o redis.Options
	if base != nil {
		o = *base
	} else {
		o = redis.Options{
			DialTimeout:           2 * time.Second,
			ReadTimeout:           5 * time.Second,
			WriteTimeout:          5 * time.Second,
			MaxRetries:            -1, // a reset must surface, not be retried behind the test's back
			ContextTimeoutEnabled: true,
		}
	}
	o.Network = "tcp"
	o.Addr = addr
	return &o
}
