package tokens_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ria-go/ria/tokens"
)

// newUpdater is tokens.New for options a test knows are valid.
func newUpdater(opt *tokens.Options) *tokens.Updater {
	u, err := tokens.New(opt)
	if err != nil {
		panic(err)
	}
	return u
}

// The option rule: Keep 0 is the book's 25, -1 keeps every view, -2 is an *OptionError naming the
// field.
func TestOptionRule(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		keep     int
		wantErr  bool
		commands int   // for one update with an item
		viewed   int64 // viewed:<token> after 30 views
	}{{0, false, 5, 25}, {-1, false, 4, 30}, {3, false, 5, 3}, {-2, true, 0, 0}} {
		u, err := tokens.New(&tokens.Options{Keep: tc.keep, Now: clock(0)})
		if tc.wantErr {
			checkOptionError(t, u, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		_, c := newMini(t)
		for _, v := range variants(u) {
			c.FlushAll(ctx)
			var up tokens.Update
			for i := 0; i < 30; i++ {
				if up, err = v.f(ctx, c, "tok", "u", "item"+string(rune('a'+i))); err != nil {
					t.Fatal(err)
				}
			}
			if n := c.ZCard(ctx, "viewed:tok").Val(); up.Commands != tc.commands || n != tc.viewed {
				t.Errorf("%s, Keep %d: %d commands, %d views kept; want %d, %d", v.name, tc.keep, up.Commands, n, tc.commands, tc.viewed)
			}
		}
	}
}

func checkOptionError(t *testing.T, u *tokens.Updater, err error) {
	t.Helper()
	var oe *tokens.OptionError
	if u != nil || !errors.As(err, &oe) || oe.Type != "tokens.Options" || oe.Field != "Keep" {
		t.Fatalf("got %v, %v; want nil and an *OptionError naming tokens.Options.Keep", u, err)
	}
	if !errors.Is(err, tokens.ErrBadOption) || !strings.Contains(err.Error(), "tokens.Options.Keep") {
		t.Fatalf("err %v does not match ErrBadOption or name the field", err)
	}
}

// Any negative Keep but -1 is refused.
func TestOptionRuleRandomNegatives(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for i := 0; i < 5000; i++ {
		keep := -2 - int(r.Int64N(math.MaxInt64-1)) // in [MinInt64, -2]
		u, err := tokens.New(&tokens.Options{Keep: keep})
		checkOptionError(t, u, err)
	}
}
