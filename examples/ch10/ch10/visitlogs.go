package ch10

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/logs"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/uniquevisits"
)

// Access logs to unique visitors: process_logs (4.1.1) reading the lines, count_visit (10.2.2) in bulk
// counting the session ids they hold.
//
// The sets and counts live on other servers than the log progress, so counting cannot join the
// batch's MULTI/EXEC. Instead each batch's transaction also stores the batch's session ids (a LIST,
// pendingKey), and they are counted once it has committed. A run that died before counting them
// counts them when it starts again. Replaying is safe because SADD is idempotent: a visitor already
// in the day's set is not new, so it is not INCRed again. A visit whose batch died between its SADD
// and the INCRBY is in the sets but not in the count; Recount gives the exact number.

const (
	logVisits   = 4_000 // lines with a session id, over logFiles files
	logFiles    = 3
	logBadLines = 2 // lines whose session field is not a UUID
	logShards   = 4 // the sharded servers of this part's Counter
	logBatch    = 500
)

// pendingKey holds the session ids of the last committed batch, committed with it. LIST
func pendingKey(prefix string) string { return prefix + "visits" }

// LogVisitsOptions configure CountLogVisits.
type LogVisitsOptions struct {
	// Logs are ProcessLogs' options; OnCommit, if set, is called after the batch has been counted.
	// default: nil (ProcessLogs' defaults)
	Logs *logs.Options

	// OnCount, when set, is called after each batch's CountVisits returned, replays included.
	// default: nil
	OnCount func(BatchCount)
}

// BatchCount is what one CountVisits over a batch of lines found.
type BatchCount struct {
	Replay bool // the ids of a batch committed by an earlier run, counted again
	Lines  int  // session ids in the batch
	New    int  // visitors new today, each INCRed once
	Repeat int  // visitors already counted today, or earlier in the batch
	Bad    int  // malformed session ids (ErrBadSessionID), counted nowhere
}

// add sums b into t.
func (t *BatchCount) add(b BatchCount) {
	t.Lines += b.Lines
	t.New += b.New
	t.Repeat += b.Repeat
	t.Bad += b.Bad
}

// SessionOf returns a log line's session id: the value of its "session=" field, "" when it has none.
func SessionOf(line string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "session="); ok {
			return v
		}
	}
	return ""
}

// CountLogVisits processes the access logs in dir with logs.ProcessLogs on c, and counts the visits
// of each committed batch with one counter.CountVisits. It first counts the ids of the batch the
// last run committed, which that run may have died before counting. It returns ProcessLogs' result
// and the totals of every CountVisits (the replay included). A CountVisits error other than a
// malformed id stops the run; the batch stays pending, for the next run to count again. A nil c or
// counter is uniquevisits.ErrNoClient.
func CountLogVisits(ctx context.Context, c redis.UniversalClient, dir string, counter *uniquevisits.Counter, opt *LogVisitsOptions) (_ logs.Result, total BatchCount, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if c == nil || counter == nil {
		return logs.Result{}, total, fmt.Errorf("%w: CountLogVisits needs a logs client and a counter", uniquevisits.ErrNoClient)
	}
	var o LogVisitsOptions
	if opt != nil {
		o = *opt
	}
	var lo logs.Options
	if o.Logs != nil {
		lo = *o.Logs
	}
	prefix := lo.Prefix
	if prefix == "" {
		prefix = "progress:"
	}
	pending := pendingKey(prefix)

	count := func(ids []string, replay bool) error {
		results, err := counter.CountVisits(ctx, ids)
		b := BatchCount{Replay: replay, Lines: len(ids)}
		for _, r := range results {
			switch {
			case errors.Is(r.Err, uniquevisits.ErrBadSessionID):
				b.Bad++
			case r.Err != nil:
			case r.Visit.New:
				b.New++
			default:
				b.Repeat++
			}
		}
		total.add(b)
		if o.OnCount != nil {
			o.OnCount(b)
		}
		return err
	}

	ids, err := c.LRange(ctx, pending, 0, -1).Result()
	if err != nil {
		return logs.Result{}, total, err
	}
	if len(ids) > 0 {
		if err := count(ids, true); err != nil {
			return logs.Result{}, total, err
		}
	}

	var batch []string
	fresh := true // the next line starts a batch: its transaction replaces the pending ids
	var countErr error
	callback := func(ctx context.Context, pipe redis.Pipeliner, l logs.Line) error {
		if countErr != nil {
			return countErr
		}
		if fresh {
			pipe.Del(ctx, pending)
			fresh = false
		}
		sid := SessionOf(l.Text)
		batch = append(batch, sid)
		pipe.RPush(ctx, pending, sid)
		return nil
	}
	userCommit := lo.OnCommit
	lo.OnCommit = func(r logs.Result) {
		fresh = true
		ids := batch
		batch = nil
		if countErr == nil && len(ids) > 0 {
			countErr = count(ids, false)
		}
		if userCommit != nil {
			userCommit(r)
		}
	}
	res, err := logs.ProcessLogs(ctx, c, dir, callback, &lo)
	if err == nil {
		err = countErr // the last batch's
	}
	return res, total, err
}

// VisitLogs writes a few access-log files whose lines hold session ids, processes them into unique
// visitors with CountLogVisits, crashing once half-way, and compares the INCRed count with Recount.
func VisitLogs(ctx context.Context, env *tour.Env) error {
	reg := env.Registry
	env.Section(fmt.Sprintf("configs: accesslogs (the log progress), visitlogs:0 to :%d (sets), visitlogs (counts)", logShards-1))
	cfg, err := env.Server(ctx)
	if err != nil {
		return err
	}
	if err := reg.SetConfig(ctx, "accesslogs", cfg); err != nil {
		return err
	}
	cfgs, err := env.SharedServers(ctx, logShards+1)
	if err != nil {
		return err
	}
	for i, cfg := range cfgs {
		comp := "visitlogs"
		if i < logShards {
			comp = shard.ShardComponent("visitlogs", i)
		}
		if err := reg.SetConfig(ctx, comp, cfg); err != nil {
			return err
		}
	}
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	counter, err := uniquevisits.New(reg, &uniquevisits.Options{Component: "visitlogs", Shards: logShards, Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	c, release, err := reg.Acquire(ctx, "accesslogs")
	if err != nil {
		return err
	}
	defer release()

	dir, err := os.MkdirTemp("", "ria-ch10-visitlogs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lines, err := writeAccessLogs(dir, tour.Sessions(logVisits))
	if err != nil {
		return err
	}
	env.Printf("wrote %d access-log lines in %d files: %d with a session id, %d with a malformed one\n",
		lines, logFiles, logVisits, logBadLines)

	env.Section("process_logs feeding CountVisits: a crash half-way (ctx cancelled once 2200 lines are committed)")
	crashCtx, crash := context.WithCancel(ctx)
	res, first, err := CountLogVisits(crashCtx, c, dir, counter, &LogVisitsOptions{Logs: &logs.Options{
		BatchLines: logBatch,
		OnCommit: func(r logs.Result) {
			if r.Lines >= 2200 {
				crash()
			}
		},
	}})
	crash()
	if !errors.Is(err, context.Canceled) {
		return fmt.Errorf("expected the simulated crash, got %v", err)
	}
	env.Printf("stopped after %d committed lines: %d new visitors, %d repeats, %d malformed\n", res.Lines, first.New, first.Repeat, first.Bad)

	env.Section("started again: the last committed batch's ids are counted again, then the rest")
	var replay BatchCount
	res, rest, err := CountLogVisits(ctx, c, dir, counter, &LogVisitsOptions{
		Logs: &logs.Options{BatchLines: logBatch},
		OnCount: func(b BatchCount) {
			if b.Replay {
				replay = b
			}
		},
	})
	if err != nil {
		return err
	}
	env.Printf("replayed %d ids of the last committed batch: %d new (SADD answered 0 for every one)\n", replay.Lines, replay.New)
	env.Printf("then %d more lines: %d new visitors, %d repeats, %d malformed\n", res.Lines, rest.New-replay.New, rest.Repeat-replay.Repeat, rest.Bad-replay.Bad)

	count, err := counter.Count(ctx, now)
	if err != nil {
		return err
	}
	exact, err := counter.Recount(ctx, now)
	if err != nil {
		return err
	}
	env.Printf("visitors on %s: %d (INCRed count), %d (Recount)\n", uniquevisits.Day(now), count, exact)
	if count != exact {
		return fmt.Errorf("the INCRed count %d differs from the recount %d", count, exact)
	}
	return nil
}

// writeAccessLogs writes the sessions' visits as access-log lines over logFiles files, with
// logBadLines malformed session ids among them, and returns the number of lines.
func writeAccessLogs(dir string, sessions []string) (int, error) {
	per := (len(sessions) + logFiles - 1) / logFiles
	lines := 0
	for f := range logFiles {
		var b strings.Builder
		part := sessions[min(f*per, len(sessions)):min((f+1)*per, len(sessions))]
		for i, sid := range part {
			fmt.Fprintf(&b, "10.0.%d.%d - - [01/Mar/2024:12:%02d:%02d +0000] \"GET /item/%d HTTP/1.1\" 200 512 session=%s\n",
				f, i%250, i/60%60, i%60, i%97, sid)
			lines++
		}
		if f < logBadLines {
			fmt.Fprintf(&b, "10.0.%d.9 - - [01/Mar/2024:12:59:59 +0000] \"GET / HTTP/1.1\" 200 512 session=not-a-uuid-%d\n", f, f)
			lines++
		}
		name := filepath.Join(dir, fmt.Sprintf("access-20240301-%02d.log", f))
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			return 0, err
		}
	}
	return lines, nil
}
