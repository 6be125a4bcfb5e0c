package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ria-go/ria/examples/ch04/ch04"
	"github.com/ria-go/ria/examples/ch09/ch09"
	"github.com/ria-go/ria/examples/ch10/ch10"
	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/redistest"
)

// The tour's default: every chapter on embedded miniredis servers, and the parts miniredis cannot do
// on servers started with redistest.
func TestTourEmbedded(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := tour.Run(ctx, &out, tour.Options{Strict: true}, parts...); err != nil {
		t.Fatalf("tour: %v\noutput:\n%s", err, out.String())
	}
	checkTour(t, out.String())
}

// Without redis-server (RIA_REDIS_SERVER names a missing binary), a strict run of a part that starts
// its own fails with ErrNotInstalled, and a user's run prints how to install it and goes on.
func TestTourWithoutRedisServer(t *testing.T) {
	t.Setenv("RIA_REDIS_SERVER", t.TempDir()+"/no-redis-server")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, strict := range []bool{true, false} {
		var out bytes.Buffer
		env, err := tour.NewEnv(ctx, &out, tour.Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		defer env.Close()
		if redistest.Installed() == nil {
			t.Fatal("redistest.Installed ignores RIA_REDIS_SERVER")
		}
		for _, part := range []struct {
			name, notice string
			run          func(context.Context, *tour.Env) error
		}{
			{"sync", "this part (replication, wait_for_sync and failover) needs redis-server", ch04.Sync},
			{"week", "this part (a week's HyperLogLog: miniredis's multi-key PFCOUNT sums the days) needs redis-server", ch10.Week},
			{"ch09", "this part (measuring memory per element: miniredis has no MEMORY USAGE) needs redis-server", ch09.ShardedStructures},
		} {
			out.Reset()
			err := part.run(ctx, env)
			if strict {
				if !errors.Is(err, redistest.ErrNotInstalled) {
					t.Errorf("strict %s without redis-server: %v; want ErrNotInstalled", part.name, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s without redis-server: %v; want a notice", part.name, err)
			}
			if s := out.String(); !strings.Contains(s, part.notice) || !strings.Contains(s, "RIA_REDIS_SERVER") {
				t.Errorf("%s: notice without redis-server: %q", part.name, s)
			}
			// Without a server to merge the days on, the week shows each day's estimate and says why.
			if part.name == "week" && !strings.Contains(out.String(), "HyperLogLog per day only (miniredis's multi-key PFCOUNT sums the days): ") {
				t.Errorf("week without redis-server shows no per-day HyperLogLog:\n%s", out.String())
			}
		}
		// Without a server to measure on, ch09 still shows the shards against Redis 7's defaults.
		if !strict && !strings.Contains(out.String(), "names (HASH): 10000 elements") {
			t.Errorf("ch09 without redis-server shows no shard layout:\n%s", out.String())
		}
	}
}

// On a server whose hash-max-listpack-entries is below the largest shard, ch09 says so and does not
// claim the compact encoding.
func TestShardOverLimit(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := redistest.RunT(t, &redistest.Options{Config: []string{"hash-max-listpack-entries 32"}})
	var out bytes.Buffer
	if err := tour.Run(ctx, &out, tour.Options{Addr: s.Addr(), Only: "ch09", Strict: true}, parts...); err != nil {
		t.Fatalf("ch09: %v\n%s", err, out.String())
	}
	o := out.String()
	m := matches(t, o, `names \(HASH\): \d+ elements in \d+ shards, \d+ to (\d+) per shard \(limit: hash-max-listpack-entries 32\)\n +the largest shard holds (\d+), over the limit 32`, 1)
	if len(m) == 1 && m[0][1] != m[0][2] {
		t.Errorf("largest shard %d, then %d", m[0][1], m[0][2])
	}
	if strings.Contains(o, "every shard stays under its limit") {
		t.Errorf("ch09 claims every shard is under a limit some exceed:\n%s", o)
	}
}
