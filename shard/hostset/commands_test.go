package hostset

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestRouteKey(t *testing.T) {
	ctx := context.Background()
	ok := []struct {
		args []any
		key  string
	}{
		{[]any{"get", "k"}, "k"},
		{[]any{"SET", "k", "v", "EX", 10}, "k"},
		{[]any{"hset", "h", "f", "v", "f2", "v2"}, "h"},
		{[]any{"object", "encoding", "k"}, "k"},
		{[]any{"OBJECT", "ENCODING", "k"}, "k"},
		{[]any{"memory", "usage", "k", "samples", 0}, "k"},
		{[]any{"eval", "return 1", 1, "k", "arg"}, "k"},
		{[]any{"evalsha", "abc", "1", "k"}, "k"},
		{[]any{"xread", "count", 1, "streams", "s", "0"}, "s"},
		{[]any{"xreadgroup", "group", "g", "c", "streams", "s", ">"}, "s"},
		{[]any{"lmove", "l", "l", "left", "right"}, "l"},
		{[]any{"georadius", "g", 0, 0, 1, "km"}, "g"},
		{[]any{"zunionstore", "z", 1, "z"}, "z"},
		{[]any{"mget", "a"}, "a"},
		{[]any{"pfadd", []byte("bytes"), "x"}, "bytes"},
	}
	for _, tc := range ok {
		got, err := routeKey(redis.NewCmd(ctx, tc.args...))
		if err != nil || got != tc.key {
			t.Errorf("routeKey(%v) = %q, %v; want %q", tc.args, got, err, tc.key)
		}
	}
	bad := []struct {
		args   []any
		reason string
	}{
		{[]any{"mget", "a", "b"}, "2 different keys"},
		{[]any{"eval", "return 1", 2, "a", "b"}, "different keys"},
		{[]any{"xread", "streams", "a", "b", "0", "0"}, "different keys"},
		{[]any{"georadius", "g", 0, 0, 1, "km", "store", "d"}, "different keys"},
		{[]any{"sort", "k"}, "depend on"},
		{[]any{"dbsize"}, "names no key"},
		{[]any{"flushdb"}, "names no key"},
		{[]any{"eval", "return 1", 0}, "names no key"},
		{[]any{"watch", "k"}, "connection of its own"},
		{[]any{"subscribe", "ch"}, "connection of its own"},
		{[]any{"frobnicate", "k"}, "unknown command"},
	}
	for _, tc := range bad {
		_, err := routeKey(redis.NewCmd(ctx, tc.args...))
		var ue *UnroutableError
		if !errors.Is(err, ErrUnroutable) || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("routeKey(%v) error %v; want ErrUnroutable saying %q", tc.args, err, tc.reason)
		}
	}
}

// TestCommandTable spot-checks the generated table against key positions from the Redis docs.
func TestCommandTable(t *testing.T) {
	if len(commandTable) < 200 {
		t.Fatalf("commandTable has %d commands; want the full Redis 7 set", len(commandTable))
	}
	keys, err := commandKeys("mset", commandTable["mset"], []any{"mset", "a", 1, "b", 2, "c", 3})
	if err != nil || strings.Join(keys, ",") != "a,b,c" {
		t.Errorf("mset keys = %v, %v; want a,b,c", keys, err)
	}
	keys, _ = commandKeys("zinterstore", commandTable["zinterstore"], []any{"zinterstore", "d", 2, "s1", "s2", "weights", 1, 2})
	if strings.Join(keys, ",") != "d,s1,s2" {
		t.Errorf("zinterstore keys = %v; want d,s1,s2", keys)
	}
	// MIGRATE's KEYS spec is marked incomplete, so the command is refused.
	if _, err := commandKeys("migrate", commandTable["migrate"], []any{"migrate", "h", 1, "k", 0, 10}); !errors.Is(err, ErrUnroutable) {
		t.Errorf("migrate: error %v; want ErrUnroutable (incomplete key spec)", err)
	}
}
