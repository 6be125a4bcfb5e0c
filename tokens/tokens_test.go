package tokens_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn/conntest"
	"github.com/ria-go/ria/tokens"
)

type updateFunc func(ctx context.Context, c redis.Cmdable, token, user, item string) (tokens.Update, error)

// variants returns both functions of u.
func variants(u *tokens.Updater) []struct {
	name string
	f    updateFunc
} {
	return []struct {
		name string
		f    updateFunc
	}{{"plain", u.UpdateToken}, {"pipeline", u.UpdateTokenPipeline}}
}

// newMini starts a miniredis server and a client on it, both closed when the test ends.
var newMini = conntest.MiniClient

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// clock starts at start and moves one second per reading.
func clock(start int64) func() time.Time {
	var n atomic.Int64
	return func() time.Time { return time.Unix(start+n.Add(1)-1, 250_000_000) }
}

func zrange(t testing.TB, c redis.Cmdable, key string) string {
	t.Helper()
	zs, err := c.ZRangeWithScores(context.Background(), key, 0, -1).Result()
	must(t, err)
	var parts []string
	for _, z := range zs {
		parts = append(parts, fmt.Sprintf("%v=%v", z.Member, z.Score))
	}
	return strings.Join(parts, " ")
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"plain", "pipeline"} {
		t.Run(name, func(t *testing.T) {
			_, c := newMini(t)
			u := newUpdater(&tokens.Options{Now: clock(1000)}) // each variant sees the same readings
			f := map[string]updateFunc{"plain": u.UpdateToken, "pipeline": u.UpdateTokenPipeline}[name]

			up, err := f(ctx, c, "t1", "alice", "")
			must(t, err)
			wantRT := 2
			if name == "pipeline" {
				wantRT = 1
			}
			if up.Commands != 2 || up.RoundTrips != wantRT || up.Timestamp != 1000.25 {
				t.Errorf("update = %+v; want 2 commands, %d round trips, timestamp 1000.25", up, wantRT)
			}
			up, err = f(ctx, c, "t1", "alice", "itemA")
			must(t, err)
			if name == "pipeline" {
				wantRT = 1
			} else {
				wantRT = 5
			}
			if up.Commands != 5 || up.RoundTrips != wantRT || up.Timestamp != 1001.25 {
				t.Errorf("update = %+v; want 5 commands, %d round trips, timestamp 1001.25", up, wantRT)
			}
			_, err = f(ctx, c, "t2", "bob", "itemA")
			must(t, err)
			_, err = f(ctx, c, "t2", "bob", "itemB")
			must(t, err)

			if got := c.HGetAll(ctx, "login:").Val(); len(got) != 2 || got["t1"] != "alice" || got["t2"] != "bob" {
				t.Errorf("login: = %v", got)
			}
			for key, want := range map[string]string{
				"recent:":   "t1=1001.25 t2=1003.25",
				"viewed:t1": "itemA=1001.25",
				"viewed:t2": "itemA=1002.25 itemB=1003.25",
				"viewed:":   "itemA=-2 itemB=-1",
			} {
				if got := zrange(t, c, key); got != want {
					t.Errorf("%s = %s; want %s", key, got, want)
				}
			}
		})
	}
}

// viewed:<token> keeps the latest Keep items (25 by default), as ZREMRANGEBYRANK 0 -26 does.
func TestTrim(t *testing.T) {
	ctx := context.Background()
	for _, keep := range []int{0, 3} {
		for _, v := range variants(newUpdater(&tokens.Options{Now: clock(0), Keep: keep})) {
			t.Run(fmt.Sprintf("%s/keep=%d", v.name, keep), func(t *testing.T) {
				_, c := newMini(t)
				want := keep
				if want == 0 {
					want = 25
				}
				for i := range 30 {
					_, err := v.f(ctx, c, "tok", "u", fmt.Sprintf("item%02d", i))
					must(t, err)
				}
				items := c.ZRange(ctx, "viewed:tok", 0, -1).Val()
				if len(items) != want || items[0] != fmt.Sprintf("item%02d", 30-want) || items[want-1] != "item29" {
					t.Errorf("viewed:tok = %v; want the latest %d", items, want)
				}
				if n := c.ZCard(ctx, "viewed:").Val(); n != 30 {
					t.Errorf("viewed: holds %d items; want 30 (never trimmed)", n)
				}
			})
		}
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	defer dead.Close()
	for _, v := range variants(newUpdater(nil)) {
		up, err := v.f(ctx, dead, "", "u", "i")
		if !errors.Is(err, tokens.ErrInvalidToken) || up.Commands != 0 {
			t.Errorf("%s: empty token: %+v, %v; want ErrInvalidToken, nothing sent", v.name, up, err)
		}
		up, err = v.f(ctx, dead, "t", "", "i")
		if !errors.Is(err, tokens.ErrInvalidUser) || up.Commands != 0 {
			t.Errorf("%s: empty user: %+v, %v; want ErrInvalidUser, nothing sent", v.name, up, err)
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		_, err = v.f(done, dead, "t", "u", "i")
		if !errors.Is(err, context.Canceled) || errors.Is(err, tokens.ErrUnknownOutcome) {
			t.Errorf("%s: cancelled: %v; want context.Canceled, not unknown", v.name, err)
		}
		// A server that is not there: nothing was sent, so the outcome is known.
		_, err = v.f(ctx, dead, "t", "u", "i")
		if err == nil || errors.Is(err, tokens.ErrUnknownOutcome) {
			t.Errorf("%s: dead server: %v; want a plain error", v.name, err)
		}
	}
}

// A key of the wrong type: the plain version stops there, the pipeline runs everything else.
func TestWrongType(t *testing.T) {
	ctx := context.Background()
	for _, v := range variants(newUpdater(&tokens.Options{Now: clock(7)})) {
		t.Run(v.name, func(t *testing.T) {
			_, c := newMini(t)
			must(t, c.Set(ctx, "viewed:tok", "oops", 0).Err())
			_, err := v.f(ctx, c, "tok", "u", "item")
			if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") || !strings.Contains(err.Error(), "zadd") {
				t.Fatalf("err = %v; want WRONGTYPE from zadd", err)
			}
			if errors.Is(err, tokens.ErrUnknownOutcome) {
				t.Errorf("err %v is ErrUnknownOutcome; the server replied", err)
			}
			if c.HGet(ctx, "login:", "tok").Val() != "u" {
				t.Error("login: not written by the commands before the failure")
			}
			views := c.ZScore(ctx, "viewed:", "item").Val()
			if v.name == "plain" && views != 0 || v.name == "pipeline" && views != -1 {
				t.Errorf("viewed: item = %v; plain stops before ZINCRBY, the pipeline runs it", views)
			}
		})
	}
}

// A lost reply is an unknown outcome: the commands did run.
func TestUnknownOutcome(t *testing.T) {
	ctx := context.Background()
	lost := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, v := range variants(newUpdater(nil)) {
		t.Run(v.name, func(t *testing.T) {
			m, check := newMini(t)
			c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
			defer c.Close()
			c.AddHook(dropReplies{lost})
			_, err := v.f(ctx, c, "tok", "u", "item")
			if !errors.Is(err, tokens.ErrUnknownOutcome) || !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("err = %v; want ErrUnknownOutcome wrapping the cause", err)
			}
			// The plain version stops after the first command; the pipeline sent them all, once.
			want := map[string]float64{"plain": 0, "pipeline": -1}[v.name]
			if s := check.ZScore(ctx, "viewed:", "item").Val(); s != want {
				t.Errorf("viewed: item = %v; want %v", s, want)
			}
			if check.HGet(ctx, "login:", "tok").Val() != "u" {
				t.Error("login: not written: the command whose reply was lost did not run")
			}
		})
	}
}

// dropReplies lets the update's commands through and reports err instead of their replies.
type dropReplies struct{ err error }

func isUpdate(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hset", "zadd", "zremrangebyrank", "zincrby":
		return true
	}
	return false
}

func (d dropReplies) DialHook(next redis.DialHook) redis.DialHook { return next }
func (d dropReplies) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !isUpdate(cmd) {
			return next(ctx, cmd)
		}
		next(ctx, cmd)
		cmd.SetErr(d.err)
		return d.err
	}
}
func (d dropReplies) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || !isUpdate(cmds[0]) {
			return next(ctx, cmds)
		}
		next(ctx, cmds)
		for _, cmd := range cmds {
			cmd.SetErr(d.err)
		}
		return d.err
	}
}
