package faultproxy_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/redistest/faultproxy"
)

// lateCtx is a context whose timer runs late: its deadline is in after, but Err stays nil until late
// past it. A socket deadline or a lookup taken from the deadline fails with "i/o timeout" first.
type lateCtx struct {
	context.Context
	past time.Time
	done chan struct{}
	once sync.Once
}

func newLateCtx(t *testing.T, after, late time.Duration) *lateCtx {
	c := &lateCtx{Context: t.Context(), past: time.Now().Add(after), done: make(chan struct{})}
	time.AfterFunc(after+late, func() { c.once.Do(func() { close(c.done) }) })
	return c
}

func (c *lateCtx) Deadline() (time.Time, bool) { return c.past, true }
func (c *lateCtx) Done() <-chan struct{}       { return c.done }
func (c *lateCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// Once ctx's deadline has passed, the I/O helpers return an error matching context.DeadlineExceeded,
// even when the socket's or the resolver's own timeout reported it first; each keeps its own sentinel.
func TestCtxDeadlineErrors(t *testing.T) {
	hole := redistest.BlackHole(t)
	base := &redis.Options{Addr: hole, MaxRetries: -1} // a retry would sleep on ctx and see it end
	p := faultproxy.StartT(t, hole)
	d := faultproxy.StartDelayT(t, hole, 0)
	// The round trips meet a deadline that passes while they wait for a reply; the lookups, one that has
	// passed already (DNS may answer at once), whose timer runs late enough that Start gets past its
	// first ctx check.
	for name, tc := range map[string]struct {
		after time.Duration
		call  func(ctx context.Context) error
	}{
		"MeasureRTT":     {50 * time.Millisecond, func(ctx context.Context) error { _, err := faultproxy.MeasureRTT(ctx, base, 3); return err }},
		"Proxy.RTT":      {50 * time.Millisecond, func(ctx context.Context) error { _, err := p.RTT(ctx, base, 3); return err }},
		"DelayProxy.RTT": {50 * time.Millisecond, func(ctx context.Context) error { _, err := d.RTT(ctx, base, 3); return err }},
		// A name that is not in /etc/hosts: the lookup goes to DNS.
		"Start (by name)": {-time.Millisecond, func(ctx context.Context) error {
			px, err := faultproxy.Start(ctx, "upstream.invalid:6379")
			if err == nil {
				px.Close()
			} else if !errors.Is(err, faultproxy.ErrNotLoopback) {
				t.Errorf("Start: %v; want ErrNotLoopback too", err)
			}
			return err
		}},
		"StartDelay (by name)": {-time.Millisecond, func(ctx context.Context) error {
			px, err := faultproxy.StartDelay(ctx, "upstream.invalid:6379", 0)
			if err == nil {
				px.Close()
			} else if !errors.Is(err, faultproxy.ErrNotLoopback) {
				t.Errorf("StartDelay: %v; want ErrNotLoopback too", err)
			}
			return err
		}},
	} {
		for rep := range 3 {
			late := 5 * time.Millisecond
			if tc.after < 0 {
				late = 300 * time.Millisecond
			}
			if err := tc.call(newLateCtx(t, tc.after, late)); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s, try %d: %v; want it to match context.DeadlineExceeded", name, rep, err)
			}
		}
	}
}
