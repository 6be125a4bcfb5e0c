package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// Result is what WaitForSync verified.
type Result struct {
	Token   string        // the token written to sync:wait (removed again)
	AOF     bool          // the replica has appendonly on
	Fsync   string        // the replica's appendfsync: always, everysec, no; "" if CONFIG GET is not allowed
	Durable bool          // the write is known to be on the replica's disk
	Note    string        // why Durable is what it is, for people
	Elapsed time.Duration // time the call took
}

// WaitForSync waits until everything written to master before the call has reached replica, and,
// when the replica has an append-only file, until it is on the replica's disk: the book's
// wait_for_sync (listing 4.3), fixed.
//
// It writes a unique token to the sync:wait ZSET on the master, waits until the replica's link to
// its master is up and the replica has the token, then reads the replica's persistence state. With
// AOF off the result says the write is in the replica's memory only (Durable false, no error). With
// AOF on, it waits until the AOF is fsynced past the token (see Options.FsyncWait) and reports
// Durable. It removes its token and tokens older than MaxAge. When Timeout or ctx's deadline passes
// first (or ctx is cancelled), writing the token included, it returns ErrNotSynced or
// ErrNotDurable, wrapping the cause and the context's error: never a silent success. Once the token
// has arrived, any failure to confirm the disk (INFO persistence refused, say) is ErrNotDurable,
// wrapping the cause. The waiting stops a quarter of the time left (50 ms to 250 ms) before that
// deadline, which is kept for the removal, so the call returns by its deadline even when a server
// does not answer.
//
// master and replica are clients of the two servers (plain clients, or a registry's through
// conn.WrapPair).
func WaitForSync(ctx context.Context, master, replica redis.Cmdable, opt *Options) (_ Result, err error) {
	start := time.Now()
	if master == nil || replica == nil {
		return Result{}, fmt.Errorf("%w: nil client", ErrBadInput)
	}
	o, err := options(opt)
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := withTimeout(ctx, &o)
	defer cancel()
	defer func() { err = noretry.CtxErr(ctx, err) }()
	wctx, r, wcancel := reserve(ctx)
	defer wcancel()

	res := Result{Token: uuid.NewString()}
	if err := master.ZAdd(wctx, waitKey, redis.Z{Score: unixSeconds(o.Now()), Member: res.Token}).Err(); err != nil {
		// Not added, or unknown: clean up in case it was.
		return res, errors.Join(deadlineErr(wctx, ErrNotSynced, "writing the token to the master", err),
			cleanup(ctx, master, &o, res.Token, r))
	}
	err = waitForSync(wctx, replica, &o, &res)
	res.Elapsed = time.Since(start)
	if cerr := cleanup(ctx, master, &o, res.Token, r); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return res, err
}

func waitForSync(ctx context.Context, replica redis.Cmdable, o *Options, res *Result) error {
	// 1. The link is up. The book's loop was inverted: it spun while the link was up.
	var repl map[string]string
	err := poll(ctx, o.Poll, func() (bool, error) {
		m, err := info(ctx, replica, "replication")
		if err != nil {
			return false, err
		}
		repl = m // the last good answer, for the error message
		if repl["role"] != "slave" {
			return false, permanentError{fmt.Errorf("%w: INFO says role:%s", ErrNotReplica, repl["role"])}
		}
		return repl["master_link_status"] == "up", nil
	})
	if err != nil {
		return notSynced("waiting for master_link_status:up", repl, err)
	}

	// 2. The replica has the token: everything the master had before it has been applied.
	err = poll(ctx, o.Poll, func() (bool, error) {
		err := replica.ZScore(ctx, waitKey, res.Token).Err()
		if errors.Is(err, redis.Nil) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return notSynced("waiting for the token on the replica", repl, err)
	}
	seen := time.Now()

	// 3. On disk? aof_pending_bio_fsync exists only when AOF is on (the book read it regardless).
	// The write has arrived; failing to read where it is stored is a failure to confirm it on disk.
	var pers map[string]string
	err = poll(ctx, o.Poll, func() (bool, error) {
		var err error
		pers, err = info(ctx, replica, "persistence")
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("%w: reading the replica's persistence state: %w", ErrNotDurable, err)
	}
	if res.AOF = pers["aof_enabled"] == "1"; !res.AOF {
		res.Note = "replica has appendonly off: the write is in its memory only, not on its disk"
		return nil
	}
	if cfg, err := replica.ConfigGet(ctx, "appendfsync").Result(); err == nil {
		res.Fsync = cfg["appendfsync"]
	}
	if res.Fsync == "no" {
		res.Note = "replica has appendfsync no: the operating system decides when the write reaches its disk"
		return nil
	}
	// With always, Redis writes and fsyncs the AOF before it replies to anyone, so the token's reply
	// came after the fsync; with everysec the fsync follows within about a second.
	wait := max(o.FsyncWait, 0) // -1: off
	if res.Fsync == "always" {
		wait = 0
	}
	written := seen
	err = poll(ctx, o.Poll, func() (bool, error) {
		p, err := info(ctx, replica, "persistence")
		if err != nil {
			return false, err
		}
		if p["aof_last_write_status"] == "err" {
			return false, permanentError{fmt.Errorf("%w: replica reports aof_last_write_status:err", ErrAOFFailed)}
		}
		if p["aof_enabled"] != "1" {
			return false, permanentError{fmt.Errorf("%w: replica turned appendonly off", ErrAOFFailed)}
		}
		// After CONFIG SET appendonly yes the AOF is usable only once its first rewrite is done, and
		// INFO does not tell that rewrite from routine ones: wait for any.
		if p["aof_rewrite_in_progress"] == "1" || p["aof_rewrite_scheduled"] == "1" {
			return false, nil
		}
		// A field a server version lacks counts as 0: the FsyncWait after the token stays.
		if v, ok := p["aof_buffer_length"]; ok && v != "0" { // a postponed write: the fsync clock restarts
			written = time.Now()
			return false, nil
		}
		pending, ok := p["aof_pending_bio_fsync"]
		return time.Since(written) >= wait && (!ok || pending == "0"), nil
	})
	if err != nil {
		if errors.Is(err, ErrAOFFailed) {
			return err
		}
		return fmt.Errorf("%w: waiting for the replica's AOF fsync: %w", ErrNotDurable, err)
	}
	res.Durable = true
	if res.Fsync == "always" {
		res.Note = "replica has appendfsync always: fsynced before it answered"
	} else {
		res.Note = fmt.Sprintf("replica has appendfsync %s: no fsync pending %v after the write", orUnknown(res.Fsync), wait)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// notSynced wraps a failed wait, naming the replica's master and link state when known.
func notSynced(stage string, repl map[string]string, err error) error {
	if errors.Is(err, ErrNotReplica) || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("sync: %s: %w", stage, err)
	}
	where := ""
	if repl != nil && repl["role"] == "slave" {
		where = fmt.Sprintf(" (replica follows %s:%s, link %s)", repl["master_host"], repl["master_port"], repl["master_link_status"])
	}
	return fmt.Errorf("%w: %s%s: %w", ErrNotSynced, stage, where, err)
}

const (
	maxRound    = 500 * time.Millisecond // under any sane client ReadTimeout
	roundMargin = 150 * time.Millisecond // Redis times WAIT out from its event loop, up to 1/hz (100 ms) late
)

// Acks is what WaitReplicas got.
type Acks struct {
	Token    string // the token written to sync:wait (removed again)
	Replicas int    // replicas that acknowledged
	Wanted   int    // Options.Replicas
	Elapsed  time.Duration
}

// WaitReplicas is the variant on WAIT numreplicas timeout: it waits until Options.Replicas replicas
// have acknowledged everything written to master before the call. Acknowledged means received and
// applied in memory, not on disk.
//
// WAIT waits for the replication offset of its own connection's last command (its last write, in
// Redis 7.2 and later), and a pooled client may run it on a connection last used before the
// caller's write on another one: it would then count replicas that lack that write. So each round
// pipelines a token write (to sync:wait) and WAIT on one connection: the token follows the caller's
// earlier writes in the replication stream, and WAIT for it covers them. Rounds last at most
// 500 ms, under any sane client read timeout, until Timeout or ctx's deadline (less the time kept
// for removing the token, as in WaitForSync); then it returns ErrTooFewReplicas, wrapping the
// context's error (so also when ctx is cancelled, or a round's request fails because of the
// deadline). On a Redis Cluster pass the node's own client: a cluster pipeline may send WAIT to
// another node.
func WaitReplicas(ctx context.Context, master redis.Cmdable, opt *Options) (_ Acks, err error) {
	start := time.Now()
	if master == nil {
		return Acks{}, fmt.Errorf("%w: nil client", ErrBadInput)
	}
	o, err := options(opt)
	if err != nil {
		return Acks{}, err
	}
	ctx, cancel := withTimeout(ctx, &o)
	defer cancel()
	cctx := ctx // the call's, for the cleanup; the rounds end before it to leave the cleanup its time
	defer func() { err = noretry.CtxErr(cctx, err) }()
	ctx, r, wcancel := reserve(ctx)
	defer wcancel()
	acks := Acks{Token: uuid.NewString(), Wanted: o.Replicas}
	err = func() error {
		for n := 0; ; n++ {
			round := maxRound
			if dl, ok := ctx.Deadline(); ok {
				// End WAIT a little before the deadline, so its reply is read, not timed out.
				round = min(round, time.Until(dl)-roundMargin)
			}
			if round < time.Millisecond { // a 0 timeout would make WAIT block forever
				return fmt.Errorf("%w: %d of %d: %w", ErrTooFewReplicas, acks.Replicas, acks.Wanted, context.DeadlineExceeded)
			}
			var wait *redis.Cmd
			_, err := master.Pipelined(ctx, func(p redis.Pipeliner) error {
				if n > 0 { // re-add, so this connection's last write is a fresh one WAIT can cover
					p.ZRem(ctx, waitKey, acks.Token)
				}
				p.ZAdd(ctx, waitKey, redis.Z{Score: unixSeconds(o.Now()), Member: acks.Token})
				wait = p.Do(ctx, "WAIT", o.Replicas, round.Milliseconds())
				return nil
			})
			if err != nil {
				return deadlineErr(ctx, ErrTooFewReplicas, fmt.Sprintf("%d of %d: WAIT %d", acks.Replicas, acks.Wanted, o.Replicas), err)
			}
			got, err := wait.Int()
			if err != nil {
				return deadlineErr(ctx, ErrTooFewReplicas, fmt.Sprintf("%d of %d: WAIT %d", acks.Replicas, acks.Wanted, o.Replicas), err)
			}
			acks.Replicas = got
			if acks.Replicas >= o.Replicas {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("%w: %d of %d: %w", ErrTooFewReplicas, acks.Replicas, acks.Wanted, err)
			}
		}
	}()
	acks.Elapsed = time.Since(start)
	if cerr := cleanup(cctx, master, &o, acks.Token, r); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return acks, err
}
