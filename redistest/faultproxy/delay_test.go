package faultproxy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/redistest/faultproxy"
)

// Every round trip through the delay proxy lasts at least twice the one-way delay (a lower bound:
// it holds however loaded the machine is).
func TestDelayRoundTripAtLeastTwiceOneWay(t *testing.T) {
	srv := redistest.RunT(t, nil)
	ctx := t.Context()
	for _, oneWay := range []time.Duration{135500 * time.Nanosecond, 2 * time.Millisecond} {
		d := faultproxy.StartDelayT(t, srv.Addr(), oneWay)
		if d.Delay() != oneWay {
			t.Fatalf("Delay() = %v; want %v", d.Delay(), oneWay)
		}
		rtt, err := d.RTT(ctx, nil, 50)
		if err != nil {
			t.Fatal(err)
		}
		if rtt.Min < 2*oneWay {
			t.Fatalf("one way %v: rtt %v; want every PING at least %v", oneWay, rtt, 2*oneWay)
		}
		t.Logf("one way %v: rtt %v", oneWay, rtt)
	}
}

// A pipeline keeps its order and its replies through the proxy.
func TestDelayKeepsOrder(t *testing.T) {
	srv := redistest.RunT(t, nil)
	ctx := t.Context()
	d := faultproxy.StartDelayT(t, srv.Addr(), 300*time.Microsecond)
	c := redis.NewClient(d.ClientOptions(nil))
	defer c.Close()
	const n = 5000
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for range n {
			p.Incr(ctx, "counter")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if got := cmd.(*redis.IntCmd).Val(); got != int64(i+1) {
			t.Fatalf("reply %d = %d; want %d", i, got, i+1)
		}
	}
	big := strings.Repeat("abcdefgh", 100_000) // 800 KB: many chunks each way
	if err := c.Set(ctx, "big", big, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "big").Result(); err != nil || got != big {
		t.Fatalf("GET big: %d bytes, %v; want %d intact", len(got), err, len(big))
	}
}

func TestDelayCloseAndSetDelay(t *testing.T) {
	srv := redistest.RunT(t, nil)
	ctx := t.Context()
	d, err := faultproxy.StartDelay(ctx, srv.Addr(), 0)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(d.ClientOptions(nil))
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := d.SetDelay(5 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 10*time.Millisecond {
		t.Fatalf("PING after SetDelay(5ms) took %v; want at least 10ms", el)
	}
	if err := d.SetDelay(-1); err == nil {
		t.Fatal("SetDelay(-1) succeeded")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING through a closed proxy succeeded")
	}
}

// Close does not wait out a long delay, nor a paused upstream: data still waiting is dropped.
func TestDelayCloseDoesNotWaitOutTheDelay(t *testing.T) {
	srv := redistest.RunT(t, nil)
	ctx := t.Context()
	d, err := faultproxy.StartDelay(ctx, srv.Addr(), 0)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(d.ClientOptions(nil))
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := d.SetDelay(time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := c.Ping(short).Err(); err == nil {
		t.Fatal("PING through an hour's delay succeeded")
	}
	if err := d.Close(); err != nil { // returning at all is the check: the data is due in an hour
		t.Fatal(err)
	}
}
