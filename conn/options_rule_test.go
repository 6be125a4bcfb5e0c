package conn

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The option rule for Wait and RefreshTimeout: 0 is the default (1 s), -1 is off (never), any other
// negative value is an *OptionError naming the field, and New returns no registry.
func TestOptionRule(t *testing.T) {
	fields := map[string]func(*Options, time.Duration){
		"Wait":           func(o *Options, d time.Duration) { o.Wait = d },
		"RefreshTimeout": func(o *Options, d time.Duration) { o.RefreshTimeout = d },
	}
	get := map[string]func(Options) time.Duration{
		"Wait":           func(o Options) time.Duration { return o.Wait },
		"RefreshTimeout": func(o Options) time.Duration { return o.RefreshTimeout },
	}
	for name, set := range fields {
		for _, tc := range []struct {
			v, want time.Duration
			wantErr bool
		}{{0, time.Second, false}, {-1, never, false}, {5 * time.Second, 5 * time.Second, false}, {-2, 0, true}, {-time.Hour, 0, true}} {
			var o Options
			set(&o, tc.v)
			r, err := New(nil, &o)
			if tc.wantErr {
				checkOptionError(t, r, err, name)
				continue
			}
			if err != nil || get[name](r.opt) != tc.want {
				t.Errorf("%s=%v: %v; want %v", name, tc.v, err, tc.want)
			}
			r.Close()
		}
	}
}

func checkOptionError(t *testing.T, r *Registry, err error, field string) {
	t.Helper()
	var oe *OptionError
	if r != nil || !errors.As(err, &oe) || oe.Type != "conn.Options" || oe.Field != field {
		t.Fatalf("got %v, %v; want nil and an *OptionError naming conn.Options.%s", r, err, field)
	}
	if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), "conn.Options."+field) {
		t.Fatalf("err %v does not match ErrBadOption or name the field", err)
	}
}

// Any negative value but -1 is refused in either field.
func TestOptionRuleRandomNegatives(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for i := 0; i < 5000; i++ {
		v := time.Duration(-2 - r.Int64N(math.MaxInt64-1)) // in [MinInt64, -2]
		o, field := Options{Wait: v}, "Wait"
		if i%2 == 1 {
			o, field = Options{RefreshTimeout: v}, "RefreshTimeout"
		}
		reg, err := New(nil, &o)
		checkOptionError(t, reg, err, field)
	}
}

// Wait -1: however far the clock moves, the config is read once; Refresh still reads it.
func TestWaitOff(t *testing.T) {
	ctx := context.Background()
	cfgServer, data := miniredis.RunT(t), miniredis.RunT(t)
	cfg := redis.NewClient(&redis.Options{Addr: cfgServer.Addr(), ContextTimeoutEnabled: true})
	defer cfg.Close()
	if err := cfg.Set(ctx, DefaultPrefix+"app", `{"addr": "`+data.Addr()+`"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	reg, err := New(cfg, &Options{Wait: -1, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	before := cfgServer.CommandCount()
	for i := 0; i < 10; i++ {
		if _, err := reg.Client(ctx, "app"); err != nil {
			t.Fatal(err)
		}
		now.Add(int64(5 * 365 * 24 * time.Hour)) // five years a call
	}
	reg.bg.Wait() // no background refresh may be in flight, or it would be counted late
	if got := cfgServer.CommandCount() - before; got != 1 {
		t.Fatalf("%d reads of the config for 10 calls over 50 years; want 1", got)
	}
	if err := reg.Refresh(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if got := cfgServer.CommandCount() - before; got != 2 {
		t.Fatalf("Refresh: %d reads in all; want 2", got)
	}
}
