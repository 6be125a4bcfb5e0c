package faultproxy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest/faultproxy"
)

// A server that stops answering: calls end at their deadline, and work again once the fault is gone.
func ExampleProxy_BlackHole() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	ctx := context.Background()

	p, err := faultproxy.Start(ctx, mr.Addr())
	if err != nil {
		panic(err)
	}
	defer p.Close()
	c := redis.NewClient(p.ClientOptions(nil))
	defer c.Close()

	fmt.Println(c.Set(ctx, "greeting", "hello", 0).Err())
	hole, _ := p.BlackHole(faultproxy.Both)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = c.Get(short, "greeting").Err()
	fmt.Println("during the fault, timed out:", timedOut(err))
	if err := hole.Remove(ctx); err != nil {
		panic(err)
	}
	fmt.Println(c.Get(ctx, "greeting").Val())
	// Output:
	// <nil>
	// during the fault, timed out: true
	// hello
}

// A slow link in front of a server: the round trip measured through it includes both delays.
func ExampleStartDelay() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	ctx := context.Background()

	d, err := faultproxy.StartDelay(ctx, mr.Addr(), 500*time.Microsecond)
	if err != nil {
		panic(err)
	}
	defer d.Close()
	rtt, err := d.RTT(ctx, nil, 20)
	if err != nil {
		panic(err)
	}
	fmt.Println("round trip at least 1ms:", rtt.Min >= time.Millisecond)
	// Output:
	// round trip at least 1ms: true
}

// timedOut: go-redis ends a call at the context's deadline either with the context's error or with the
// socket's deadline error, whichever fires first.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
