package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
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
type Proxy struct {
	upstream string
	addr     string
	tp       *toxiproxy.Proxy
	seq      atomic.Int64

	mu     sync.Mutex // serializes Enable, Disable and Close
	closed bool
}

// Start starts a proxy in front of upstream (host:port on loopback). The caller closes it.
func Start(ctx context.Context, upstream string) (*Proxy, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkLoopback(upstream); err != nil {
		return nil, err
	}
	// No metrics, no logs: the proxy is a test fixture, its warnings ("source terminated") are expected.
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	tp := toxiproxy.NewProxy(srv, "faultproxy", "127.0.0.1:0", upstream)
	if err := tp.Start(); err != nil {
		return nil, fmt.Errorf("faultproxy: start: %w", err)
	}
	tp.Lock()
	addr := tp.Listen // the port actually bound
	tp.Unlock()
	return &Proxy{upstream: upstream, addr: addr, tp: tp}, nil
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
func (t Toxic) Remove() error {
	if t.p == nil {
		return fmt.Errorf("%w: zero Toxic", ErrInvalid)
	}
	for _, n := range t.names {
		if err := t.p.tp.Toxics.RemoveToxic(context.Background(), n); err != nil {
			return fmt.Errorf("faultproxy: remove %s: %w", n, err)
		}
	}
	return nil
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

// Add adds a toxic described by spec.
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
			t.Remove()
			return Toxic{}, fmt.Errorf("%w: attributes: %v", ErrInvalid, err)
		}
		if _, err := p.tp.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
			t.Remove()
			return Toxic{}, fmt.Errorf("%w: toxic %q: %v", ErrInvalid, spec.Type, err)
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

// RemoveAll removes every toxic.
func (p *Proxy) RemoveAll() { p.tp.Toxics.ResetToxics(context.Background()) }

// Disable stops listening and closes every connection: new connections are refused until Enable.
func (p *Proxy) Disable() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tp.Stop()
}

// Enable listens again on the same address.
func (p *Proxy) Enable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.tp.Lock()
	enabled := p.tp.Enabled
	p.tp.Unlock()
	if enabled {
		return nil
	}
	if err := p.tp.Start(); err != nil {
		return fmt.Errorf("faultproxy: enable %s: %w", p.addr, err)
	}
	return nil
}

// Enabled reports whether the proxy is accepting connections.
func (p *Proxy) Enabled() bool {
	p.tp.Lock()
	defer p.tp.Unlock()
	return p.tp.Enabled
}

// Close stops the proxy and closes its connections. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.tp.Stop()
	return nil
}

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
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: upstream %q: %v", ErrInvalid, addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("%w: upstream %q: bad port", ErrInvalid, addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
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
