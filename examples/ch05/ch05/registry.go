// Package ch05 is section 5.4 of Redis in Action, "Service discovery and configuration", on ria:
// configs stored in Redis under config:redis:<component>, the connection registry that reads them,
// and the book's redis_connection decorator as conn.Wrap (registry.go).
//
// Run it with `go run ./examples/ch05`; the tour (examples/tour) runs it among the others.
package ch05

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/examples/internal/tour"
)

// Parts are the chapter's parts in order.
var Parts = []tour.Part{
	{Chapter: "ch05", Title: "5.4 Service discovery and configuration: the connection registry", Run: Registry},
}

// Registry writes configs, fetches clients through the registry, changes a config and watches the
// client switch, and shows what happens to bad and missing configs.
func Registry(ctx context.Context, env *tour.Env) error {
	reg := env.Registry
	first, err := env.Server(ctx)
	if err != nil {
		return err
	}
	second, err := env.Server(ctx)
	if err != nil {
		return err
	}

	env.Section("set_config: configs live in Redis under config:redis:<component>")
	if err := reg.SetConfig(ctx, "ch05:logs", first); err != nil {
		return err
	}
	stored, err := env.Config.Get(ctx, reg.Key("ch05:logs")).Result()
	if err != nil {
		return err
	}
	env.Printf("%s = %s\n", reg.Key("ch05:logs"), stored)

	env.Section("redis_connection: a wrapped function gets its component's client")
	logLine := conn.Wrap1(reg, "ch05:logs", func(ctx context.Context, c redis.Cmdable, line string) (int64, error) {
		return c.RPush(ctx, "ch05:recent", line).Result()
	})
	for _, line := range []string{"started", "serving"} {
		n, err := logLine(ctx, line)
		if err != nil {
			return err
		}
		env.Printf("logged %q: list length %d\n", line, n)
	}
	// Client, not Acquire: this client is only compared and pinged, to show it closed after the switch.
	before, err := reg.Client(ctx, "ch05:logs")
	if err != nil {
		return err
	}
	env.Printf("client: %s\n", reg.Config("ch05:logs"))

	env.Section("change the config (as another process would) and watch the client switch")
	raw, err := json.Marshal(second)
	if err != nil {
		return err
	}
	if err := env.Config.Set(ctx, reg.Key("ch05:logs"), raw, 0).Err(); err != nil {
		return err
	}
	// The registry re-reads a config at most once per Wait (1 s), in the background: calls keep
	// using the cached client meanwhile, so none of them waits for the config server.
	start := time.Now()
	var after redis.UniversalClient
	for calls := 1; ; calls++ {
		if _, err := logLine(ctx, "during the switch"); err != nil {
			return err
		}
		if after, err = reg.Client(ctx, "ch05:logs"); err != nil {
			return err
		}
		if after != before {
			env.Printf("switched after %d calls and %v, none failed\n", calls, time.Since(start).Round(100*time.Millisecond))
			break
		}
		if time.Since(start) > 5*time.Second {
			return errors.New("the registry did not pick up the new config")
		}
		time.Sleep(10 * time.Millisecond)
	}
	env.Printf("client: %s\n", reg.Config("ch05:logs"))
	// The old client is closed once calls using it finish (the book leaked it). The refresh publishes
	// the new client before it retires the old one, so the close may lag the switch a little.
	closed := before.Ping(ctx).Err()
	for deadline := time.Now().Add(5 * time.Second); !errors.Is(closed, redis.ErrClosed); closed = before.Ping(ctx).Err() {
		if time.Now().After(deadline) {
			return fmt.Errorf("the old client is still open 5s after the switch (Ping: %v)", closed)
		}
		time.Sleep(10 * time.Millisecond)
	}
	env.Printf("old client after the switch: %v\n", closed)

	env.Section("bad and missing configs are typed errors, and nothing is written")
	err = reg.SetConfig(ctx, "ch05:logs", `{"host": "cache-1", "port": "6379"}`)
	env.Printf("SetConfig with a string port: %v (ErrBadConfig: %v)\n", err, errors.Is(err, conn.ErrBadConfig))
	err = reg.SetConfig(ctx, "ch05:logs", `{"host": "cache-1", "prot": 6379}`)
	env.Printf("SetConfig with a misspelt field: %v\n", err)
	_, err = reg.Client(ctx, "ch05:search")
	env.Printf("a component with no config: %v (ErrNoConfig: %v)\n", err, errors.Is(err, conn.ErrNoConfig))
	cfg, err := conn.ParseConfig([]byte(`{"url": "rediss://app:s3cret@cache-1:6380/2"}`))
	if err != nil {
		return err
	}
	env.Printf("a config never prints its password: %v\n", cfg)
	return nil
}
