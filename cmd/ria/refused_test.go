package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A key under the prefix that is not a string (any type, anywhere among the configs) is a FAIL row
// of its own: config list and check show every other config as usual, shards status and route go
// on, and the commands on that component say what the key is.
func TestNonStringConfigKeyIsOneFailedRow(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	writers := []func(c *redis.Client, key string) error{
		func(c *redis.Client, k string) error { return c.HSet(ctx, k, "a", "b").Err() },
		func(c *redis.Client, k string) error { return c.RPush(ctx, k, "a").Err() },
		func(c *redis.Client, k string) error { return c.SAdd(ctx, k, "a").Err() },
		func(c *redis.Client, k string) error { return c.ZAdd(ctx, k, redis.Z{Score: 1, Member: "a"}).Err() },
		func(c *redis.Client, k string) error {
			return c.XAdd(ctx, &redis.XAddArgs{Stream: k, Values: []string{"a", "b"}}).Err()
		},
	}
	cfg, _ := dataDB(t)
	for round := range 6 {
		h := newHarness(t)
		n := 2 + r.IntN(4)
		bad := map[string]bool{}
		for i := range n {
			name := fmt.Sprintf("sh:%d", i)
			if i == 0 || (i > 1 && r.IntN(2) == 0) { // sh:0 good, sh:1 bad, the rest either
				h.store(name, cfg)
				continue
			}
			bad[name] = true
			if err := writers[r.IntN(len(writers))](h.cfg, h.prefix+name); err != nil {
				t.Fatal(err)
			}
		}
		list := h.want(exitOK, "config", "list")
		check := h.run("", "config", "check")
		if check.code != exitFail || !strings.Contains(check.stderr, fmt.Sprintf("%d of %d configs failed", len(bad), n)) {
			t.Fatalf("round %d: config check: %s", round, check)
		}
		for i := range n {
			name := fmt.Sprintf("sh:%d", i)
			for cmd, out := range map[string]string{"list": list.stdout, "check": check.stdout} {
				line := lineOf(out, name)
				if fails := strings.Contains(line, "FAIL"); fails != bad[name] || (bad[name] && !strings.Contains(line, "WRONGTYPE")) {
					t.Fatalf("round %d: config %s, %s (bad %v): %q\n%s", round, cmd, name, bad[name], line, out)
				}
			}
		}
		status := h.run("", "shards", "status", "sh")
		if strings.Contains(status.stderr, "check it is up") || strings.Count(status.stdout, "sh:") < n {
			t.Fatalf("round %d: shards status blamed the config server: %s", round, status)
		}
		for name := range bad {
			for _, args := range [][]string{{"config", "get", name}, {"config", "rm", name, "--yes"},
				{"config", "set", name, cfg, "--no-connect"}, {"market", "ls", "--component", name}} {
				got := h.want(exitFail, args...)
				contains(t, got, "WRONGTYPE", "is not a string")
				if strings.Contains(got.stderr, "check it is up") {
					t.Fatalf("ria %s blamed the config server: %s", strings.Join(args, " "), got)
				}
			}
			if typ, _ := h.cfg.Type(ctx, h.prefix+name).Result(); typ == "string" || typ == "none" {
				t.Fatalf("%s was overwritten or removed: now %s", name, typ)
			}
		}
	}
}

// A key the config server's user may not read (NOPERM) is that component's FAIL row too.
func TestUnreadableConfigKeyIsOneFailedRow(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cfg, _ := dataDB(t)
	h.store("open", cfg)
	h.store("closed", cfg)
	user := strings.TrimSuffix(h.prefix, ":config:") + "reader"
	if err := h.cfg.Do(ctx, "ACL", "SETUSER", user, "on", ">reader-pw", "resetkeys", "~"+h.prefix+"open",
		"+get", "+scan", "+ping", "+hello", "+client", "+info", "+select").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.cfg.Do(ctx, "ACL", "DELUSER", user) })
	h.env["RIA_CONFIG_URL"] = fmt.Sprintf("redis://%s:reader-pw@%s", user, shared.cfg.Addr())
	list := h.want(exitOK, "config", "list")
	if !strings.Contains(lineOf(list.stdout, "closed"), "NOPERM") || strings.Contains(lineOf(list.stdout, "open"), "FAIL") {
		t.Fatalf("config list:\n%s", list)
	}
	r := h.want(exitFail, "config", "get", "closed")
	contains(t, r, "NOPERM", "grant it read access")
	h.want(exitOK, "config", "get", "open")
}

// lineOf is the first line of out whose first field is name.
func lineOf(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return l
		}
	}
	return ""
}
