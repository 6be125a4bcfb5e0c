package faultproxy

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// RTT is the round trip a client measured: PINGs on one connection, after one untimed PING that dials.
type RTT struct {
	N                     int
	Min, Median, P90, Max time.Duration
}

func (r RTT) String() string {
	return fmt.Sprintf("median %v (min %v, p90 %v, max %v, n=%d)", r.Median, r.Min, r.P90, r.Max, r.N)
}

// MeasureRTT opens a client with opt (one connection), sends one PING to connect, then n PINGs one at
// a time, and returns their distribution. It includes the client's and the server's work, as a
// benchmark's calls do; the median is the figure to report.
func MeasureRTT(ctx context.Context, opt *redis.Options, n int) (_ RTT, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }() // an i/o timeout from ctx's deadline is ctx's error
	if opt == nil {
		return RTT{}, fmt.Errorf("%w: nil options", ErrInvalid)
	}
	if n <= 0 {
		return RTT{}, fmt.Errorf("%w: %d PINGs", ErrInvalid, n)
	}
	o := *opt
	o.PoolSize = 1
	o.MinIdleConns = 0
	o.ContextTimeoutEnabled = true
	c := redis.NewClient(&o)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return RTT{}, fmt.Errorf("faultproxy: rtt: %w", err)
	}
	ds := make([]time.Duration, n)
	for i := range ds {
		t := time.Now()
		if err := c.Ping(ctx).Err(); err != nil {
			return RTT{}, fmt.Errorf("faultproxy: rtt: %w", err)
		}
		ds[i] = time.Since(t)
	}
	slices.Sort(ds)
	return RTT{N: n, Min: ds[0], Median: ds[n/2], P90: ds[n*9/10], Max: ds[n-1]}, nil
}
