package faultproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// DelayProxy is a TCP proxy on 127.0.0.1 that delays every chunk of data by a fixed one-way time, each
// way, with sub-millisecond precision. It keeps order and throughput: a reader stamps each chunk with
// its due time and queues it, a writer sends it when due, so data that arrives while earlier data waits
// is delayed once, not once per chunk ahead of it. Each delayed chunk costs its writer a kernel sleep
// and a spin of a few tens of microseconds (see waitUntil): CPU the emulated link takes from the
// machine, like the kernel's own work would. It is safe for concurrent use.
type DelayProxy struct {
	upstream string
	ln       net.Listener
	delay    atomic.Int64 // one-way, nanoseconds
	held     gauge        // chunks waiting out their delay, all connections and both ways

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	done   chan struct{} // closed by Close: stops delays in progress and dials
	wg     sync.WaitGroup
}

// queueLen bounds the chunks in flight per direction; past it the reader stops reading and TCP's own
// flow control pushes back on the sender.
const queueLen = 256

// chunkSize is the largest read; a chunk is whatever one read returned.
const chunkSize = 16 << 10

// StartDelay starts a delaying proxy in front of upstream (host:port on loopback) that holds data
// oneWay in each direction, so the round trip grows by 2*oneWay. The caller closes it.
func StartDelay(ctx context.Context, upstream string, oneWay time.Duration) (_ *DelayProxy, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }() // a lookup cut short by ctx is ctx's error
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if oneWay < 0 {
		return nil, fmt.Errorf("%w: delay %v is negative", ErrInvalid, oneWay)
	}
	if err := checkLoopback(ctx, upstream); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	d := &DelayProxy{upstream: upstream, ln: ln, conns: make(map[net.Conn]struct{}), done: make(chan struct{})}
	d.delay.Store(int64(oneWay))
	d.wg.Add(1)
	go d.accept()
	return d, nil
}

// StartDelayT starts a delaying proxy for a test, fails the test if it cannot, and closes it when the
// test ends.
func StartDelayT(t testing.TB, upstream string, oneWay time.Duration) *DelayProxy {
	t.Helper()
	d, err := StartDelay(context.Background(), upstream, oneWay)
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Addr is the proxy's listening address (127.0.0.1:port).
func (d *DelayProxy) Addr() string { return d.ln.Addr().String() }

// Upstream is the address the proxy forwards to.
func (d *DelayProxy) Upstream() string { return d.upstream }

// Delay is the one-way delay.
func (d *DelayProxy) Delay() time.Duration { return time.Duration(d.delay.Load()) }

// SetDelay changes the one-way delay for data read from now on. It does no I/O and returns at once.
func (d *DelayProxy) SetDelay(oneWay time.Duration) error {
	if oneWay < 0 {
		return fmt.Errorf("%w: delay %v is negative", ErrInvalid, oneWay)
	}
	d.delay.Store(int64(oneWay))
	return nil
}

// ClientOptions returns go-redis options that connect through the proxy (see Proxy.ClientOptions).
func (d *DelayProxy) ClientOptions(base *redis.Options) *redis.Options {
	return clientOptions(base, d.Addr())
}

// RTT measures the round trip through the proxy: n PINGs on one connection (see MeasureRTT).
func (d *DelayProxy) RTT(ctx context.Context, base *redis.Options, n int) (RTT, error) {
	return MeasureRTT(ctx, d.ClientOptions(base), n)
}

// Close stops listening, closes every connection and waits for the proxy's goroutines, which it stops
// first: data waiting out its delay is dropped and dials in progress are cancelled, so Close returns
// promptly whatever the delay and whether or not the upstream answers.
func (d *DelayProxy) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.done)
	err := d.ln.Close()
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	d.wg.Wait()
	return err
}

// track registers a connection; it reports false (and closes c) once the proxy is closed.
func (d *DelayProxy) track(c net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		c.Close()
		return false
	}
	d.conns[c] = struct{}{}
	return true
}

func (d *DelayProxy) untrack(c net.Conn) {
	d.mu.Lock()
	delete(d.conns, c)
	d.mu.Unlock()
	c.Close()
}

func (d *DelayProxy) accept() {
	defer d.wg.Done()
	for {
		client, err := d.ln.Accept()
		if err != nil {
			return // closed
		}
		if !d.track(client) {
			return
		}
		d.wg.Add(1)
		go d.serve(client)
	}
}

func (d *DelayProxy) serve(client net.Conn) {
	defer d.wg.Done()
	defer d.untrack(client)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	go func() {
		select {
		case <-d.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	var dialer net.Dialer
	server, err := dialer.DialContext(ctx, "tcp", d.upstream)
	cancel()
	if err != nil {
		return // the client sees its connection closed, as behind a real proxy
	}
	if !d.track(server) {
		return
	}
	defer d.untrack(server)
	var wg sync.WaitGroup
	wg.Add(2)
	halt := func() { client.Close(); server.Close() }
	go func() { defer wg.Done(); relay(server, client, d.Delay, halt, d.done, &d.held) }()
	go func() { defer wg.Done(); relay(client, server, d.Delay, halt, d.done, &d.held) }()
	wg.Wait()
}

type chunk struct {
	buf *[]byte
	n   int
	due time.Time
}

// gauge counts the chunks read and not yet written or dropped, and the most at once. A peak above one
// shows delays overlapping: a proxy that slept out each chunk's delay before reading the next would
// never hold two.
type gauge struct{ n, peak atomic.Int64 }

func (g *gauge) add(d int64) {
	n := g.n.Add(d)
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
}

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// relay copies src to dst, each chunk delay() after it was read; held counts the chunks between. On
// EOF it half-closes dst once the queue is drained; on any error, or once stop is closed, it calls
// halt, which closes both connections, and drops what is still queued.
func relay(dst, src net.Conn, delay func() time.Duration, halt func(), stop <-chan struct{}, held *gauge) {
	q := make(chan chunk, queueLen)
	go func() {
		defer close(q)
		for {
			bp := chunkPool.Get().(*[]byte)
			n, err := src.Read(*bp)
			if n > 0 {
				held.add(1)
				q <- chunk{buf: bp, n: n, due: time.Now().Add(delay())}
			} else {
				chunkPool.Put(bp)
			}
			if err != nil {
				if err != io.EOF {
					halt()
				}
				return
			}
		}
	}()

	failed := false
	for c := range q {
		if !failed {
			waitUntil(c.due, stop)
			if stopped(stop) {
				failed = true // Close: drop the chunk rather than send it early
				halt()
			} else if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
				failed = true
				halt() // the reader's Read fails now; keep draining so it never blocks on a full queue
			}
		}
		held.add(-1)
		chunkPool.Put(c.buf)
	}
	if !failed {
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite() // pass the EOF on, keep the other direction open
		}
	}
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
