package main

import (
	"context"
	"math"
	"slices"
	"time"
)

// Rate is how many calls a loop made in how long.
type Rate struct {
	Calls   int
	Elapsed time.Duration
}

// PerSec is calls per second.
func (r Rate) PerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Calls) / r.Elapsed.Seconds()
}

// Loop is the book's benchmark loop (listing 4.9): call fn until budget has passed or maxCalls calls
// are done (maxCalls <= 0: no cap), one at a time, and time them. A bench makes its warm-up calls
// (the dial) before. It stops at the first error.
func (e *Env) Loop(ctx context.Context, budget time.Duration, maxCalls int, fn func(context.Context) error) (Rate, error) {
	start := time.Now()
	end := start.Add(budget)
	n := 0
	for {
		if err := fn(ctx); err != nil {
			return Rate{Calls: n, Elapsed: time.Since(start)}, err
		}
		n++
		e.Tick()
		now := time.Now()
		if (maxCalls > 0 && n >= maxCalls) || now.After(end) {
			return Rate{Calls: n, Elapsed: now.Sub(start)}, nil
		}
	}
}

// Latencies is a sample of call durations.
type Latencies []time.Duration

// Quantile returns the q-quantile (0..1) by the nearest-rank method; 0 for an empty sample.
func (l Latencies) Quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Mean is the arithmetic mean; 0 for an empty sample.
func (l Latencies) Mean() time.Duration {
	if len(l) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range l {
		sum += d
	}
	return sum / time.Duration(len(l))
}
