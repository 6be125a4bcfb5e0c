package tour

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

// The tests need redis-server: the parts that start their own never leave themselves out here.
func TestRedisServerInstalled(t *testing.T) {
	if err := redistest.Installed(); err != nil {
		t.Fatalf("the tests need redis-server: %v", err)
	}
}

// Without redis-server (RIA_REDIS_SERVER names a missing binary), NeedServers fails with
// ErrNotInstalled in a strict run, and otherwise prints how to install it and lets the part go on.
func TestNeedServersWithoutRedisServer(t *testing.T) {
	t.Setenv("RIA_REDIS_SERVER", t.TempDir()+"/no-redis-server")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, strict := range []bool{true, false} {
		var out bytes.Buffer
		env, err := NewEnv(ctx, &out, Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		defer env.Close()
		missing, err := env.NeedServers("replication")
		if !missing {
			t.Errorf("strict %v: NeedServers ignores RIA_REDIS_SERVER", strict)
		}
		if strict != errors.Is(err, redistest.ErrNotInstalled) || strict != (err != nil) {
			t.Errorf("strict %v: NeedServers: %v", strict, err)
		}
		if s := out.String(); strict != (s == "") || (!strict && !strings.Contains(s, "RIA_REDIS_SERVER")) {
			t.Errorf("strict %v: notice %q", strict, s)
		}
	}
}

// The config client honours ctx deadlines on reads, as the registry's clients do.
func TestConfigClientContextTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := redistest.RunT(t, nil)
	for _, addr := range []string{"", s.Addr()} {
		env, err := NewEnv(ctx, &bytes.Buffer{}, Options{Addr: addr})
		if err != nil {
			t.Fatal(err)
		}
		defer env.Close()
		c, ok := env.Config.(*redis.Client)
		if !ok {
			t.Fatalf("config client is %T", env.Config)
		}
		if !c.Options().ContextTimeoutEnabled {
			t.Errorf("addr %q: the config client has ContextTimeoutEnabled false", addr)
		}
	}
}
