package ch10

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/uniquevisits"
)

const (
	weekPool   = 1_000 // distinct visitors, user ids 0 to 999
	weekVisits = 400   // visits a day, drawn with repeats
)

// Monday is the first day of the week the tour counts.
var Monday = time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)

// WeekVisitors returns the week's visitors (their session ids, user id = index) and each day's
// visits as user ids, the same every run. Day 0's batch also holds two malformed session ids.
func WeekVisitors() (pool []string, days [][]int) {
	seen := map[int64]bool{}
	for _, sid := range tour.Sessions(3 * weekPool) {
		id, _ := uniquevisits.ParseSessionID(sid)
		if !seen[id] && len(pool) < weekPool {
			seen[id] = true
			pool = append(pool, sid)
		}
	}
	r := rand.New(rand.NewPCG(10, 2))
	for range 7 {
		day := make([]int, weekVisits)
		for i := range day {
			day[i] = r.IntN(weekPool / 2) // half the pool a day, so days overlap
			if r.IntN(2) == 0 {
				day[i] += weekPool / 2
			}
		}
		days = append(days, day)
	}
	return pool, days
}

// WeekBadIDs are the malformed session ids of Monday's batch.
var WeekBadIDs = []string{"not-a-session-id", "6a1f0a42-0d23-4d6e-9a4c"}

// Week counts a week of visits with one bulk CountVisits a day, then the week's unique visitors
// in the three variants: the sharded sets, the HyperLogLog and the bitmap of dense user ids.
func Week(ctx context.Context, env *tour.Env) error {
	cfg, err := env.Server(ctx)
	if err != nil {
		return err
	}
	if err := env.Registry.SetConfig(ctx, "week", cfg); err != nil {
		return err
	}
	c, release, err := env.Registry.Acquire(ctx, "week")
	if err != nil {
		return err
	}
	defer release()
	now := Monday
	clock := func() time.Time { return now }
	counter, err := uniquevisits.NewOnClient(c, &uniquevisits.Options{Now: clock})
	if err != nil {
		return err
	}
	bitmap, err := uniquevisits.NewBitmap(c, &uniquevisits.BitmapOptions{MaxID: weekPool - 1, Now: clock})
	if err != nil {
		return err
	}
	// miniredis's PFCOUNT of several keys sums their estimates instead of merging them: the
	// HyperLogLogs go to a redis-server started for this, or, without one, only days are shown.
	hll, weekHLL := redis.Cmdable(c), true
	if !env.Real() {
		if redistest.Installed() == nil {
			s, err := redistest.Run(ctx, nil)
			if err != nil {
				return err
			}
			defer s.Close()
			rc := s.NewClient()
			defer rc.Close()
			hll = rc
		} else if _, err := env.NeedServers("a week's HyperLogLog: miniredis's multi-key PFCOUNT sums the days"); err != nil {
			return err
		} else {
			weekHLL = false
		}
	}

	pool, days := WeekVisitors()
	env.Section("the bulk call: one CountVisits for a day's visits (one pipeline of SADDs, one INCRBY)")
	for d, day := range days {
		now = Monday.AddDate(0, 0, d)
		ids := make([]string, 0, len(day)+len(WeekBadIDs))
		for _, u := range day {
			ids = append(ids, pool[u])
		}
		if d == 0 {
			ids = append(ids, WeekBadIDs...)
		}
		results, err := counter.CountVisits(ctx, ids)
		if err != nil {
			return err
		}
		var fresh, repeat, bad int
		for _, r := range results {
			switch {
			case errors.Is(r.Err, uniquevisits.ErrBadSessionID):
				bad++
			case r.Err != nil:
				return r.Err
			case r.Visit.New:
				fresh++
			default:
				repeat++
			}
		}
		if d == 0 {
			env.Printf("Monday: one CountVisits of %d ids: %d new, %d repeats, %d malformed\n", len(ids), fresh, repeat, bad)
		}
		for _, u := range day {
			if _, err := bitmap.CountVisit(ctx, int64(u)); err != nil {
				return err
			}
			if _, err := uniquevisits.CountVisitHLL(ctx, hll, pool[u], now); err != nil {
				return err
			}
		}
	}
	sunday := Monday.AddDate(0, 0, 6)

	env.Section("a week's unique visitors in the three variants")
	sets, err := counter.UniqueRange(ctx, Monday, sunday, nil)
	if err != nil {
		return err
	}
	env.Printf("sets (SSCAN union of the days' shards): %d\n", sets)
	if weekHLL {
		est, err := uniquevisits.UniqueRangeHLL(ctx, hll, Monday, sunday)
		if err != nil {
			return err
		}
		note := ""
		if !env.Real() {
			note = "; on a redis-server started for this: miniredis's multi-key PFCOUNT sums the days instead of merging them"
		}
		env.Printf("HyperLogLog (PFCOUNT of the 7 days): %d, %+.2f%%%s\n", est, 100*float64(est-sets)/float64(sets), note)
	} else {
		var per []string
		for d := range days {
			n, err := uniquevisits.UniqueHLL(ctx, hll, Monday.AddDate(0, 0, d))
			if err != nil {
				return err
			}
			per = append(per, fmt.Sprint(n))
		}
		env.Printf("HyperLogLog per day only (miniredis's multi-key PFCOUNT sums the days): %s\n", strings.Join(per, " "))
	}
	bits, err := bitmap.CountRange(ctx, Monday, sunday)
	if err != nil {
		return err
	}
	env.Printf("bitmap (BITOP OR of the days, BITCOUNT): %d\n", bits)

	env.Section("the bitmap variant: user ids 0 to 999, one bit each a day")
	mon, err := bitmap.Count(ctx, Monday)
	if err != nil {
		return err
	}
	mid, err := bitmap.CountRange(ctx, Monday.AddDate(0, 0, 1), Monday.AddDate(0, 0, 3))
	if err != nil {
		return err
	}
	env.Printf("Monday: %d users; Tuesday to Thursday: %d users\n", mon, mid)
	if _, err := bitmap.CountVisit(ctx, weekPool); errors.Is(err, uniquevisits.ErrBadUserID) {
		env.Printf("user id %d: %v\n", weekPool, err)
	}
	return nil
}
