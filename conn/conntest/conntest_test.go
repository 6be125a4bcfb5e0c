package conntest_test

import (
	"context"
	"testing"
	"time"

	"github.com/ria-go/ria/conn/conntest"
)

// Each component reaches its own server, on miniredis and on real redis-servers alike.
func TestStartGivesEachComponentItsServer(t *testing.T) {
	for _, real := range []bool{false, true} {
		t.Run(map[bool]string{false: "miniredis", true: "redis-server"}[real], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			comps := append(conntest.Shards("s", 3), "counts")
			env := conntest.Start(t, &conntest.Options{Real: real}, comps...)
			seen := map[string]bool{}
			for _, c := range comps {
				if seen[env.Addrs[c]] {
					t.Fatalf("%s shares the server %s", c, env.Addrs[c])
				}
				seen[env.Addrs[c]] = true
				client, err := env.Registry.Client(ctx, c)
				if err != nil {
					t.Fatalf("%s: %v", c, err)
				}
				if err := client.Set(ctx, "owner", c, 0).Err(); err != nil {
					t.Fatalf("%s: SET: %v", c, err)
				}
			}
			for _, c := range comps {
				got, err := env.Client(t, c).Get(ctx, "owner").Result()
				if err != nil || got != c {
					t.Fatalf("%s's server holds owner=%q (%v); want %q", c, got, err, c)
				}
				if n, err := env.Config.Exists(ctx, env.Registry.Key(c)).Result(); err != nil || n != 1 {
					t.Fatalf("%s: config key missing (%d, %v)", c, n, err)
				}
			}
		})
	}
}
