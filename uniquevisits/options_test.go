package uniquevisits

import (
	"errors"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
)

func mustNew(t testing.TB, reg *conn.Registry, opt *Options) *Counter {
	t.Helper()
	c, err := New(reg, opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustOnClient(t testing.TB, client redis.Cmdable, opt *Options) *Counter {
	t.Helper()
	c, err := NewOnClient(client, opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var optionFields = []struct {
	name string
	set  func(*Options, int64)
	get  func(Options) int64
	def  int64
	off  bool
}{
	{"Shards", func(o *Options, v int64) { o.Shards = int(v) }, func(o Options) int64 { return int64(o.Shards) }, Shards, false},
	{"ShardSize", func(o *Options, v int64) { o.ShardSize = int(v) }, func(o Options) int64 { return int64(o.ShardSize) }, ShardSize, false},
	{"DailyExpected", func(o *Options, v int64) { o.DailyExpected = v }, func(o Options) int64 { return o.DailyExpected }, DailyExpected, false},
	{"CacheDays", func(o *Options, v int64) { o.CacheDays = int(v) }, func(o Options) int64 { return int64(o.CacheDays) }, 2, true},
	{"Durable.Replicas", func(o *Options, v int64) { o.Durable.Replicas = int(v) }, func(o Options) int64 { return int64(o.Durable.Replicas) }, 0, true},
	{"Durable.Timeout", func(o *Options, v int64) { o.Durable.Timeout = time.Duration(v) }, func(o Options) int64 { return int64(o.Durable.Timeout) }, int64(time.Second), true},
}

// The option rule, through both constructors: 0 is the default, -1 is off where the field has an
// off and an error otherwise, -2 is an *OptionError naming the field.
func TestOptionRule(t *testing.T) {
	_, client := mini(t)
	reg := registry(t)
	ctors := map[string]func(*Options) (*Counter, error){
		"New":         func(o *Options) (*Counter, error) { return New(reg, o) },
		"NewOnClient": func(o *Options) (*Counter, error) { return NewOnClient(client, o) },
	}
	for cname, ctor := range ctors {
		for _, f := range optionFields {
			t.Run(cname+"/"+f.name, func(t *testing.T) {
				c, err := ctor(&Options{})
				if err != nil || f.get(c.Options()) != f.def {
					t.Fatalf("0: got %v; want the default %d", err, f.def)
				}
				var o Options
				f.set(&o, -1)
				c, err = ctor(&o)
				if f.off {
					if err != nil || f.get(c.Options()) != -1 {
						t.Fatalf("-1: got %v; want -1 (off)", err)
					}
				} else {
					checkOptionError(t, c, err, f.name)
				}
				f.set(&o, -2)
				c, err = ctor(&o)
				checkOptionError(t, c, err, f.name)
			})
		}
	}
}

func checkOptionError(t *testing.T, c *Counter, err error, field string) {
	t.Helper()
	var oe *OptionError
	if c != nil || !errors.As(err, &oe) || oe.Type != "uniquevisits.Options" || oe.Field != field {
		t.Fatalf("got %v, %v; want nil and an *OptionError naming uniquevisits.Options.%s", c, err, field)
	}
	if !errors.Is(err, ErrBadOption) || !errors.Is(err, conn.ErrBadOption) {
		t.Fatalf("err %v does not match ErrBadOption (the module's one value)", err)
	}
	if !strings.Contains(err.Error(), "uniquevisits.Options."+field) {
		t.Fatalf("message %q does not name the field", err)
	}
}

// Any negative value but -1 is refused for every field, and -1 where the field has no off; the
// other fields stay valid, so the error is about the one field.
func TestOptionRuleRandomNegatives(t *testing.T) {
	_, client := mini(t)
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 2000; i++ {
		f := optionFields[r.IntN(len(optionFields))]
		v := -1 - r.Int64N(math.MaxInt64) // in [MinInt64, -1]
		if f.name != "DailyExpected" && v < math.MinInt {
			v = math.MinInt
		}
		var o Options
		f.set(&o, v)
		c, err := NewOnClient(client, &o)
		if v == -1 && f.off {
			if err != nil {
				t.Fatalf("%s=-1: %v", f.name, err)
			}
			continue
		}
		checkOptionError(t, c, err, f.name)
	}
}

// CacheDays -1: nothing is cached, so every Expected reads the server.
func TestCacheDaysOff(t *testing.T) {
	ctx := t.Context()
	m, client := mini(t)
	for _, tc := range []struct {
		cacheDays int
		cached    int
		gets      int // GETs of the expected size after the first call
	}{{0, 1, 0}, {-1, 0, 3}} {
		c := mustOnClient(t, client, &Options{Now: fixedClock(day), CacheDays: tc.cacheDays})
		if _, err := c.Expected(ctx, day); err != nil {
			t.Fatal(err)
		}
		before := m.CommandCount()
		for i := 0; i < 3; i++ {
			if _, err := c.Expected(ctx, day); err != nil {
				t.Fatal(err)
			}
		}
		if got := m.CommandCount() - before; got != tc.gets || len(c.CachedDays()) != tc.cached {
			t.Errorf("CacheDays %d: %d commands for 3 calls, %d days cached; want %d, %d",
				tc.cacheDays, got, len(c.CachedDays()), tc.gets, tc.cached)
		}
	}
}

// Recount as a user without +info: INFO server is refused (NOPERM), and Recount tells the servers
// apart by their components' configs instead, counting a server its components spell alike once.
func TestRecountWithoutInfo(t *testing.T) {
	ctx := t.Context()
	const pw = "recount-pw"
	srv := redistest.RunT(t, &redistest.Options{Config: []string{
		"user counter on >" + pw + " resetkeys -@all ~unique:* +hello +get +set +incr +sadd +scard +client|info",
	}})
	admin := srv.Client(t)
	reg := registry(t)
	cfg := map[string]any{"addr": srv.Addr(), "username": "counter", "password": pw}
	for _, comp := range []string{Component, shard.ShardComponent(Component, 0), shard.ShardComponent(Component, 1), shard.ShardComponent(Component, 2)} {
		if err := reg.SetConfig(ctx, comp, cfg); err != nil {
			t.Fatal(err)
		}
	}
	c := mustNew(t, reg, &Options{Shards: 3, Now: fixedClock(day), DailyExpected: 1000})
	sids, distinct := visits(40)
	for _, sid := range sids {
		if _, err := c.CountVisit(ctx, sid); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	recount, err := c.Recount(ctx, day)
	if err != nil || recount != int64(distinct) {
		t.Fatalf("Recount = %d, %v; want %d", recount, err, distinct)
	}
	stats, err := admin.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	// cmdstat_info:calls=1,usec=...,rejected_calls=3,failed_calls=0 counts the admin's own INFO too.
	rejected := regexp.MustCompile(`cmdstat_info:.*rejected_calls=(\d+)`).FindStringSubmatch(stats)
	if rejected == nil || rejected[1] != "3" {
		t.Fatalf("INFO refused %v times; want 3 (once per shard), so that the fallback ran:\n%s", rejected, stats)
	}
}
