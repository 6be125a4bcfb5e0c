package durable_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/redistest"
)

// TestConnsDialAtOnce: Conns of a fresh client dialing together, as durable writes of many
// goroutines do, against a Redis that refuses go-redis's maintenance-notification handshake (7.0).
// Under -race this fails if the handshake's outcome is written while Conns read it.
func TestConnsDialAtOnce(t *testing.T) {
	ctx := context.Background()
	srv := redistest.RunT(t, nil)
	for round := 0; round < 4; round++ {
		c := srv.NewClient()
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn := durable.Conn(ctx, c)
				defer conn.Close()
				if err := conn.Ping(ctx).Err(); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		c.Close()
	}
}

// A caller waits for another's settling PING only until its own ctx ends: on a server that never
// answers, a second caller with a short deadline gets its Conn back while the first still waits.
func TestConnSettleBoundedByCtx(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: redistest.BlackHole(t), ReadTimeout: -1, MaxRetries: -1})
	closed := false
	defer func() {
		if !closed {
			c.Close()
		}
	}()
	firstDone := make(chan struct{})
	go func() {
		defer close(firstDone)
		durable.Conn(context.Background(), c).Close() // its PING waits until the client is closed
	}()
	// Wait until the first caller holds the turn: its PING dialed the black hole.
	for i := 0; c.PoolStats().TotalConns == 0; i++ {
		if i == 500 {
			t.Fatal("the first caller never dialed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	second, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	got := make(chan struct{})
	go func() {
		durable.Conn(second, c).Close()
		close(got)
	}()
	select {
	case <-got:
	case <-firstDone:
		t.Fatal("the first caller's PING returned: the server answered")
	case <-time.After(30 * time.Second): // a guard: the first caller's PING never ends by itself
		t.Fatal("the second caller waited for the first caller's PING, past its own ctx")
	}
	select {
	case <-firstDone:
		t.Fatal("the first caller returned: the test did not hold the turn")
	default:
	}
	closed = true
	c.Close() // ends the first caller's read
	<-firstDone
}
