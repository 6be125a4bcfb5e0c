package durable_test

import (
	"context"
	"sync"
	"testing"

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
