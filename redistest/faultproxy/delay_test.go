package faultproxy_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
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
	ctx := ctxT(t, 30*time.Second)
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
	ctx := ctxT(t, 30*time.Second)
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

// Chunks written back to back are each delayed once, not once per chunk queued ahead of them. With
// 20 commands sent as separate writes a few ms apart, a proxy that slept per chunk would need 20
// delays; a queue needs about one. The bound compares times measured in the same run.
func TestDelayDoesNotSerialize(t *testing.T) {
	srv := redistest.RunT(t, nil)
	const oneWay = 20 * time.Millisecond
	d := faultproxy.StartDelayT(t, srv.Addr(), oneWay)
	conn, err := net.Dial("tcp", d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)

	// One round trip, for scale.
	start := time.Now()
	fmt.Fprint(conn, "PING\r\n")
	if line, err := r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING: %q, %v", line, err)
	}
	rtt := time.Since(start)

	const n = 20
	start = time.Now()
	for i := range n {
		fmt.Fprintf(conn, "ECHO m%d\r\n", i)
		time.Sleep(time.Millisecond) // separate reads at the proxy
	}
	for i := range n {
		if _, err := r.ReadString('\n'); err != nil { // $len
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil || line != fmt.Sprintf("m%d\r\n", i) {
			t.Fatalf("reply %d: %q, %v", i, line, err)
		}
	}
	all := time.Since(start)
	t.Logf("one round trip %v; %d commands written 1ms apart: %v", rtt, n, all)
	// Serialized: about n*oneWay = 10 round trips. Queued: one round trip plus the ~n ms of writing.
	if all > 5*rtt {
		t.Fatalf("%d queued commands took %v, %.1f round trips of %v; want well under 10 (the delays overlap)",
			n, all, float64(all)/float64(rtt), rtt)
	}
}

func TestDelayCloseAndSetDelay(t *testing.T) {
	srv := redistest.RunT(t, nil)
	ctx := ctxT(t, 30*time.Second)
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
	ctx := ctxT(t, 30*time.Second)
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
	start := time.Now()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second { // generous: the bound is "not an hour"
		t.Fatalf("Close took %v with data waiting out an hour's delay", el)
	}
}
