package tokens_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/tokens"
)

// While the slot of "viewed:" is half moved (its key on the target, the slot still migrating: the
// source answers ASK), both calls count the view in both modes; durable, the ASKed command goes to
// the importing master after ASKING and its WAIT confirms it. After the move, a client whose slot
// map predates it follows the MOVED. Each call counts its view once.
func TestDurableDuringSlotMove(t *testing.T) {
	ctx := context.Background()
	cl := redistest.RunClusterT(t, nil)
	c := cl.Client(t)
	if _, err := tokens.UpdateToken(ctx, c, "tok", "u", "item0"); err != nil {
		t.Fatal(err)
	}
	stale := cl.Client(t) // loads the slot map before the move
	if _, err := tokens.UpdateTokenPipeline(ctx, stale, "tok2", "u", "item0"); err != nil {
		t.Fatal(err)
	}
	_, dst, err := cl.MoveEnds(ctx, "viewed:")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := tokens.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	dur, err := tokens.New(&tokens.Options{Durable: tokens.Durability{Replicas: 1, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	batched := func(context.Context, []string) error {
		for _, u := range []*tokens.Updater{plain, dur} {
			for item, f := range map[string]func(context.Context, redis.Cmdable, string, string, string) (tokens.Update, error){
				"itemA": u.UpdateToken, "itemB": u.UpdateTokenPipeline,
			} {
				calls++
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := f(rctx, c, "tok", "u", item)
				cancel()
				if err != nil {
					t.Errorf("%s during the move (durable %v): %v", item, u == dur, err)
				}
			}
		}
		return nil
	}
	if err := cl.MoveSlot(ctx, shard.Slot("viewed:"), dst, &redistest.MoveOptions{Batch: 1, Batched: batched}); err != nil {
		t.Fatal(err)
	}
	if calls != 4 {
		t.Fatalf("%d calls during the move; want 4 (one batch: viewed: alone in its slot)", calls)
	}
	for _, f := range []func(context.Context, redis.Cmdable, string, string, string) (tokens.Update, error){dur.UpdateToken, dur.UpdateTokenPipeline} {
		if _, err := f(ctx, stale, "tok2", "u", "itemC"); err != nil {
			t.Errorf("through a slot map older than the move, durable: %v", err)
		}
	}
	for _, item := range []string{"itemA", "itemB", "itemC"} {
		if s, err := c.ZScore(ctx, "viewed:", item).Result(); err != nil || s != -2 {
			t.Errorf("viewed: %s = %v, %v; want -2 (two views, each once)", item, s, err)
		}
	}
}
