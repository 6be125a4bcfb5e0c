package sync

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// Snapshot describes a finished background save.
type Snapshot struct {
	LastSave time.Time     // LASTSAVE after the save
	Saves    int64         // rdb_saves: successful saves since the server started
	Path     string        // dir/dbfilename from CONFIG GET; "" if CONFIG is not allowed
	Elapsed  time.Duration // time the call took, waiting for an earlier save included
}

// BGSave starts a background save (section 4.1.1) and waits until it has finished, so the snapshot
// holds everything written before the call. A save or AOF rewrite already running is waited for
// first (its fork may predate the caller's writes), then BGSAVE is issued again. It waits on INFO's
// rdb_bgsave_in_progress rather than polling LASTSAVE for a change: LASTSAVE has one-second
// resolution, so a save that ends in the same second as an earlier one would look unfinished. The
// result holds LASTSAVE read after the save. It returns ErrSaveFailed when the save fails
// (rdb_last_bgsave_status:err), or when the deadline passes (or ctx is cancelled) before the call has
// finished, wrapping the cause and the context's error; a save already started may still complete.
func BGSave(ctx context.Context, c redis.Cmdable, opt *Options) (_ Snapshot, err error) {
	start := time.Now()
	if c == nil {
		return Snapshot{}, fmt.Errorf("%w: nil client", ErrBadInput)
	}
	o, err := options(opt)
	if err != nil {
		return Snapshot{}, err
	}
	ctx, cancel := withTimeout(ctx, &o)
	defer cancel()
	defer func() { err = noretry.CtxErr(ctx, err) }()

	// Start our own save, waiting out any other child process.
	err = poll(ctx, o.Poll, func() (bool, error) {
		err := c.BgSave(ctx).Err()
		if err == nil {
			return true, nil
		}
		msg := err.Error()
		if noretry.IsErrorReply(err) && (strings.Contains(msg, "already in progress") ||
			strings.Contains(msg, "child process is active") || strings.Contains(msg, "rewriting in progress")) {
			return false, nil
		}
		return false, permanentError{err}
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("%w: starting BGSAVE: %w", ErrSaveFailed, err)
	}
	// Any save running from now on is ours (another BGSAVE would have been refused), so the first
	// time none is running, ours is done.
	var pers map[string]string
	err = poll(ctx, o.Poll, func() (bool, error) {
		var err error
		if pers, err = info(ctx, c, "persistence"); err != nil {
			return false, err
		}
		return pers["rdb_bgsave_in_progress"] == "0", nil
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("%w: waiting for BGSAVE: %w", ErrSaveFailed, err)
	}
	if pers["rdb_last_bgsave_status"] != "ok" {
		return Snapshot{}, fmt.Errorf("%w: rdb_last_bgsave_status:%s (see the server's log)", ErrSaveFailed, pers["rdb_last_bgsave_status"])
	}
	snap := Snapshot{Saves: infoInt(pers, "rdb_saves")}
	last, err := c.LastSave(ctx).Result()
	if err != nil {
		return snap, deadlineErr(ctx, ErrSaveFailed, "LASTSAVE", err)
	}
	snap.LastSave = time.Unix(last, 0)
	// CONFIG may not be allowed (a refusal leaves Path empty); a network failure is an error.
	dir, err := c.ConfigGet(ctx, "dir").Result()
	if err == nil {
		var name map[string]string
		if name, err = c.ConfigGet(ctx, "dbfilename").Result(); err == nil && dir["dir"] != "" {
			snap.Path = filepath.Join(dir["dir"], name["dbfilename"])
		}
	}
	if err != nil && !noretry.IsReply(err) {
		return snap, deadlineErr(ctx, ErrSaveFailed, "CONFIG GET dir, dbfilename", err)
	}
	snap.Elapsed = time.Since(start)
	return snap, nil
}

// AOFStatus describes the append-only file after EnableAOF.
type AOFStatus struct {
	AlreadyOn bool          // appendonly was on (and no rewrite pending) before the call
	Fsync     string        // appendfsync; "" if CONFIG GET is not allowed
	Size      int64         // aof_current_size
	Elapsed   time.Duration // time the call took
}

// EnableAOF turns the append-only file on (section 4.1.2: CONFIG SET appendonly yes) and waits until
// the rewrite that creates it has finished, since until then the AOF cannot restore the data. The
// change is not written to the server's config file (CONFIG REWRITE does that, when there is one).
// It returns ErrAOFFailed when the rewrite fails, or when the deadline passes (or ctx is cancelled)
// before the call has finished, wrapping the cause and the context's error.
func EnableAOF(ctx context.Context, c redis.Cmdable, opt *Options) (_ AOFStatus, err error) {
	start := time.Now()
	if c == nil {
		return AOFStatus{}, fmt.Errorf("%w: nil client", ErrBadInput)
	}
	o, err := options(opt)
	if err != nil {
		return AOFStatus{}, err
	}
	ctx, cancel := withTimeout(ctx, &o)
	defer cancel()
	defer func() { err = noretry.CtxErr(ctx, err) }()

	var st AOFStatus
	pers, err := info(ctx, c, "persistence")
	if err != nil {
		return st, deadlineErr(ctx, ErrAOFFailed, "INFO persistence", err)
	}
	rewriting := func(p map[string]string) bool {
		return p["aof_rewrite_in_progress"] == "1" || p["aof_rewrite_scheduled"] == "1"
	}
	if pers["aof_enabled"] == "1" && !rewriting(pers) {
		st.AlreadyOn = true
	} else if err := c.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		return st, fmt.Errorf("%w: CONFIG SET appendonly yes: %w", ErrAOFFailed, err)
	}
	err = poll(ctx, o.Poll, func() (bool, error) {
		var err error
		if pers, err = info(ctx, c, "persistence"); err != nil {
			return false, err
		}
		if rewriting(pers) {
			return false, nil
		}
		// No rewrite running: the statuses are those of the last one, which must be ours or later.
		if pers["aof_last_bgrewrite_status"] == "err" || pers["aof_last_write_status"] == "err" {
			return false, permanentError{fmt.Errorf("%w: aof_last_bgrewrite_status:%s aof_last_write_status:%s (see the server's log)",
				ErrAOFFailed, pers["aof_last_bgrewrite_status"], pers["aof_last_write_status"])}
		}
		return pers["aof_enabled"] == "1", nil
	})
	if err != nil {
		if errors.Is(err, ErrAOFFailed) {
			return st, err
		}
		return st, deadlineErr(ctx, ErrAOFFailed, "waiting for the AOF rewrite", err)
	}
	st.Size = infoInt(pers, "aof_current_size")
	// CONFIG may not be allowed (a refusal leaves Fsync empty); a network failure is an error.
	cfg, err := c.ConfigGet(ctx, "appendfsync").Result()
	if err != nil && !noretry.IsReply(err) {
		return st, deadlineErr(ctx, ErrAOFFailed, "CONFIG GET appendfsync", err)
	}
	st.Fsync = cfg["appendfsync"]
	st.Elapsed = time.Since(start)
	return st, nil
}
