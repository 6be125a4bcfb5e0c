package ch04

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/tokens"
)

// Tokens updates a login token with and without a pipeline through the registry, shows the data
// both write, and times them as listing 4.9 does.
func Tokens(ctx context.Context, env *tour.Env) error {
	reg := env.Registry
	cfg, err := env.Server(ctx)
	if err != nil {
		return err
	}
	if err := reg.SetConfig(ctx, "tokens", cfg); err != nil {
		return err
	}
	update := conn.Wrap3(reg, "tokens", tokens.UpdateToken)
	updatePipeline := conn.Wrap3(reg, "tokens", tokens.UpdateTokenPipeline)
	c, release, err := reg.Acquire(ctx, "tokens") // held for the chapter: a config change cannot close it
	if err != nil {
		return err
	}
	defer release()

	env.Section("listing 4.7 update_token: one round trip per command")
	up, err := update(ctx, "d2f1b6", "bill", "")
	if err != nil {
		return err
	}
	env.Printf("login only: %d commands, %d round trips\n", up.Commands, up.RoundTrips)
	up, err = update(ctx, "d2f1b6", "bill", "ItemM")
	if err != nil {
		return err
	}
	env.Printf("with an item: %d commands, %d round trips\n", up.Commands, up.RoundTrips)

	env.Section("listing 4.8 update_token_pipeline: the same commands in one pipeline, no MULTI/EXEC")
	up, err = updatePipeline(ctx, "d2f1b6", "bill", "ItemN")
	if err != nil {
		return err
	}
	env.Printf("with an item: %d commands, %d round trip\n", up.Commands, up.RoundTrips)
	showTokens(ctx, env, c, "d2f1b6")

	env.Section("viewed:<token> keeps the latest 25 items; viewed: counts every view (ZINCRBY -1)")
	for i := range 30 {
		if _, err := updatePipeline(ctx, "a81c04", "alice", fmt.Sprintf("Item%02d", i)); err != nil {
			return err
		}
	}
	if _, err := update(ctx, "a81c04", "alice", "ItemM"); err != nil {
		return err
	}
	viewed := c.ZRange(ctx, "viewed:a81c04", 0, -1).Val()
	env.Printf("30+1 views by a81c04: viewed:a81c04 holds %d, oldest %s, latest %s\n", len(viewed), viewed[0], viewed[len(viewed)-1])
	top := c.ZRangeWithScores(ctx, "viewed:", 0, 0).Val()
	env.Printf("most viewed item: %v with %v views\n", top[0].Member, -top[0].Score)

	env.Section("listing 4.9 benchmark_update_token: calls per second, one call at a time")
	const duration = time.Second
	rates := map[string]float64{}
	for _, f := range []struct {
		name string
		fn   func(context.Context, string, string, string) (tokens.Update, error)
	}{{"update_token", update}, {"update_token_pipeline", updatePipeline}} {
		count := 0
		start := time.Now()
		for time.Since(start) < duration {
			if _, err := f.fn(ctx, "token", "user", "item"); err != nil {
				return err
			}
			count++
		}
		delta := time.Since(start)
		rates[f.name] = float64(count) / delta.Seconds()
		env.Printf("%-22s %6d calls in %v: %8.0f calls/s\n", f.name, count, delta.Round(time.Millisecond), rates[f.name])
	}
	env.Printf("pipeline / plain: %.1fx\n", rates["update_token_pipeline"]/rates["update_token"])
	if env.Real() {
		env.Printf("(a real server, but through the registry and this machine's load: make bench measures Table 4.4)\n")
	} else {
		env.Printf("(on embedded miniredis, in this process: not network figures; make bench measures Table 4.4 on real servers)\n")
	}
	return nil
}

// showTokens prints the keys update_token writes.
func showTokens(ctx context.Context, env *tour.Env, c redis.Cmdable, token string) {
	env.Printf("login:          %v\n", c.HGetAll(ctx, "login:").Val())
	env.Printf("recent:         %s\n", zset(c.ZRangeWithScores(ctx, "recent:", 0, -1).Val()))
	env.Printf("viewed:%s  %s\n", token, zset(c.ZRangeWithScores(ctx, "viewed:"+token, 0, -1).Val()))
	env.Printf("viewed:         %s\n", zset(c.ZRangeWithScores(ctx, "viewed:", 0, -1).Val()))
}

// zset formats ZSET entries as member=score, timestamps in full.
func zset(zs []redis.Z) string {
	s := "["
	for i, z := range zs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%v=%s", z.Member, strconv.FormatFloat(z.Score, 'f', -1, 64))
	}
	return s + "]"
}
