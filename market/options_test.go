package market_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
)

// The option rule: 0 is the default, -1 is no limit, any other negative value is an *OptionError
// naming the field, and NewWatch returns no Watch.
func TestOptionRule(t *testing.T) {
	fields := map[string]func(*market.Options, time.Duration){
		"ListTimeout":     func(o *market.Options, d time.Duration) { o.ListTimeout = d },
		"PurchaseTimeout": func(o *market.Options, d time.Duration) { o.PurchaseTimeout = d },
	}
	for name, set := range fields {
		for _, tc := range []struct {
			v       time.Duration
			wantErr bool
		}{{0, false}, {-1, false}, {time.Second, false}, {-2, true}, {-time.Second, true}, {math.MinInt64, true}} {
			var o market.Options
			set(&o, tc.v)
			w, err := market.NewWatch(&o)
			if !tc.wantErr {
				if err != nil || w == nil {
					t.Errorf("%s=%v: %v, %v; want a Watch", name, tc.v, w, err)
				}
				continue
			}
			checkOptionError(t, w, err, name)
		}
	}
}

func checkOptionError(t *testing.T, w *market.Watch, err error, field string) {
	t.Helper()
	var oe *market.OptionError
	if w != nil || !errors.As(err, &oe) || oe.Type != "market.Options" || oe.Field != field {
		t.Fatalf("got %v, %v; want nil and an *OptionError naming market.Options.%s", w, err, field)
	}
	if !errors.Is(err, market.ErrBadOption) || !strings.Contains(err.Error(), "market.Options."+field) {
		t.Fatalf("err %v does not match ErrBadOption or name the field", err)
	}
}

// Any negative value but -1, in either field, is refused.
func TestOptionRuleRandomNegatives(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 5000; i++ {
		v := time.Duration(-2 - r.Int64N(math.MaxInt64-1)) // in [MinInt64, -2]
		o, field := market.Options{ListTimeout: v}, "ListTimeout"
		if i%2 == 1 {
			o, field = market.Options{PurchaseTimeout: v}, "PurchaseTimeout"
		}
		w, err := market.NewWatch(&o)
		checkOptionError(t, w, err, field)
	}
}

// The default deadline ends the retries; with PurchaseTimeout -1 only ctx does, however far the
// clock moves.
func TestPurchaseTimeoutOff(t *testing.T) {
	ctx := context.Background()
	m, c := newMini(t)
	setupStory(t, c)
	must(t, c.ZAdd(ctx, "market:", redis.Z{Score: 97, Member: "ItemM.17"}).Err())
	other := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer other.Close()
	var sent atomic.Int64
	c.AddHook(conflict(other, 1<<60, &sent))
	var tick atomic.Int64
	clock := func() time.Time { return time.Unix(tick.Add(3600), 0) } // an hour per reading

	w := newWatch(&market.Options{PurchaseTimeout: -1, Now: clock})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.AddHook(hook{pipeline: func(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
		return func(ctx context.Context, cmds []redis.Cmder) error {
			err := next(ctx, cmds)
			if isExec(cmds) && sent.Load() >= 20 {
				cancel()
			}
			return err
		}
	}})
	p, err := w.PurchaseItem(cctx, c, "27", "ItemM", "17", 97)
	wantErr(t, err, market.ErrContention)
	wantErr(t, err, context.Canceled)
	if p.Retries < 19 {
		t.Errorf("retries = %d; want 19 or more (no deadline of its own)", p.Retries)
	}
}
