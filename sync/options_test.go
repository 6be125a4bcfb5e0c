package sync

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The option rule: 0 is the default, -1 is off where the field has an off, any other negative value
// is an *OptionError naming the field.
func TestOptionRule(t *testing.T) {
	o, err := options(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Timeout != 10*time.Second || o.Poll != time.Millisecond || o.MaxAge != 15*time.Minute ||
		o.FsyncWait != 1200*time.Millisecond || o.Replicas != 1 || o.Now == nil {
		t.Fatalf("defaults: got %+v", o)
	}
	for _, tc := range []struct {
		field string
		set   func(*Options, int64)
		get   func(Options) int64
		off   bool
	}{
		{"Timeout", func(o *Options, v int64) { o.Timeout = time.Duration(v) }, func(o Options) int64 { return int64(o.Timeout) }, true},
		{"Poll", func(o *Options, v int64) { o.Poll = time.Duration(v) }, func(o Options) int64 { return int64(o.Poll) }, false},
		{"MaxAge", func(o *Options, v int64) { o.MaxAge = time.Duration(v) }, func(o Options) int64 { return int64(o.MaxAge) }, true},
		{"FsyncWait", func(o *Options, v int64) { o.FsyncWait = time.Duration(v) }, func(o Options) int64 { return int64(o.FsyncWait) }, true},
		{"Replicas", func(o *Options, v int64) { o.Replicas = int(v) }, func(o Options) int64 { return int64(o.Replicas) }, false},
	} {
		t.Run(tc.field, func(t *testing.T) {
			var in Options
			tc.set(&in, -1)
			o, err := options(&in)
			if tc.off {
				if err != nil || tc.get(o) != -1 {
					t.Fatalf("-1: got %d, %v; want -1 (off), nil", tc.get(o), err)
				}
			} else {
				checkOptionError(t, err, tc.field)
			}
			tc.set(&in, -2)
			_, err = options(&in)
			checkOptionError(t, err, tc.field)
		})
	}
}

func checkOptionError(t *testing.T, err error, field string) {
	t.Helper()
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Type != "sync.Options" || oe.Field != field {
		t.Fatalf("err %v; want an *OptionError naming sync.Options.%s", err, field)
	}
	if !errors.Is(err, ErrBadOption) || !errors.Is(err, ErrBadInput) {
		t.Fatalf("err %v does not match ErrBadOption and ErrBadInput", err)
	}
}

// Every negative value but -1 is refused for every field, before any I/O: the server is never dialled.
func TestOptionRuleRandomNegatives(t *testing.T) {
	dials := 0
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Dialer: func(context.Context, string, string) (net.Conn, error) {
		dials++
		return nil, errors.New("no dial expected")
	}})
	defer c.Close()
	r := rand.New(rand.NewPCG(5, 6))
	fields := []string{"Timeout", "Poll", "MaxAge", "FsyncWait", "Replicas"}
	for i := 0; i < 2000; i++ {
		f := fields[r.IntN(len(fields))]
		v := -2 - r.Int64N(math.MaxInt64-1) // in [MinInt64, -2]
		var o Options
		switch f {
		case "Timeout":
			o.Timeout = time.Duration(v)
		case "Poll":
			o.Poll = time.Duration(v)
		case "MaxAge":
			o.MaxAge = time.Duration(v)
		case "FsyncWait":
			o.FsyncWait = time.Duration(v)
		case "Replicas":
			o.Replicas = int(v)
		}
		_, err := WaitReplicas(context.Background(), c, &o)
		checkOptionError(t, err, f)
	}
	if dials != 0 {
		t.Fatalf("%d dials; want none", dials)
	}
}

// Timeout -1: the call has ctx's deadline alone.
func TestTimeoutOff(t *testing.T) {
	o := Options{Timeout: -1}
	if err := o.init(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := withTimeout(context.Background(), &o)
	defer cancel()
	if _, ok := ctx.Deadline(); ok {
		t.Fatal("Timeout -1 gave the call a deadline")
	}
	o = Options{}
	_ = o.init()
	ctx2, cancel2 := withTimeout(context.Background(), &o)
	defer cancel2()
	if _, ok := ctx2.Deadline(); !ok {
		t.Fatal("the default Timeout gave the call no deadline")
	}
}

// MaxAge -1: old tokens are left in sync:wait, the call's own token is removed.
func TestMaxAgeOff(t *testing.T) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	c.ZAdd(ctx, waitKey, redis.Z{Score: unixSeconds(now.Add(-time.Hour)), Member: "old"}, redis.Z{Score: unixSeconds(now), Member: "mine"})
	for _, tc := range []struct {
		maxAge time.Duration
		want   []string
	}{{-1, []string{"old"}}, {0, []string{}}} {
		c.ZAdd(ctx, waitKey, redis.Z{Score: unixSeconds(now), Member: "mine"})
		o := Options{MaxAge: tc.maxAge, Now: func() time.Time { return now }}
		if err := o.init(); err != nil {
			t.Fatal(err)
		}
		if err := cleanup(ctx, c, &o, "mine", time.Second); err != nil {
			t.Fatal(err)
		}
		got, err := c.ZRange(ctx, waitKey, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) || len(got) == 1 && got[0] != tc.want[0] {
			t.Fatalf("MaxAge %v: sync:wait holds %v; want %v", tc.maxAge, got, tc.want)
		}
	}
}
