package sync

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
)

// Options configure every function of the package; each uses the fields it needs. They follow
// go-redis's rule (see ErrBadOption): 0 means the default, -1 means off where a field's doc gives an
// off, and any other negative value is an error, returned before any I/O.
type Options struct {
	// Timeout bounds a call, on top of ctx's own deadline: it is never a silent success.
	// default: 10 seconds; -1: no timeout of its own (ctx alone bounds the call)
	Timeout time.Duration

	// Poll is the first pause between two polls of a server; it doubles after each miss up to 20 ms.
	// default: 1 millisecond (the book's); it cannot be off (-1 is an error)
	Poll time.Duration

	// MaxAge: WaitForSync and WaitReplicas remove tokens older than this from sync:wait (left by
	// calls that died before cleaning up).
	// default: 15 minutes (the book's 900 seconds); -1: never (only the call's own token is removed)
	MaxAge time.Duration

	// FsyncWait: when the replica's appendfsync is everysec (or cannot be read), how long after the
	// token reached the replica's AOF WaitForSync waits before trusting aof_pending_bio_fsync:0.
	// everysec fsyncs at most about a second after a write; Redis 7.0 does not say which offset is
	// on disk (WAITAOF came in 7.2).
	// default: 1.2 seconds; -1: no wait (aof_pending_bio_fsync:0 is trusted at once)
	FsyncWait time.Duration

	// Replicas is how many replicas WaitReplicas waits for.
	// default: 1; it cannot be off (-1 is an error)
	Replicas int

	// Now is the clock for the token scores and MaxAge.
	// default: time.Now
	Now func() time.Time
}

const maxPoll = 20 * time.Millisecond

var optionsOf = option.Of{Type: "sync.Options", Also: ErrBadInput}

// init checks o by the option rule and fills the defaults.
func (o *Options) init() error {
	if o.Now == nil {
		o.Now = time.Now
	}
	return option.Join(
		option.Fill(optionsOf, "Timeout", &o.Timeout, 10*time.Second, true),
		option.Fill(optionsOf, "Poll", &o.Poll, time.Millisecond, false),
		option.Fill(optionsOf, "MaxAge", &o.MaxAge, 15*time.Minute, true),
		option.Fill(optionsOf, "FsyncWait", &o.FsyncWait, 1200*time.Millisecond, true),
		option.Fill(optionsOf, "Replicas", &o.Replicas, 1, false),
	)
}

// options copies opt, checks it, and fills defaults.
func options(opt *Options) (Options, error) {
	var o Options
	if opt != nil {
		o = *opt
	}
	err := o.init()
	return o, err
}

// withTimeout bounds ctx by o.Timeout, unless it is off.
func withTimeout(ctx context.Context, o *Options) (context.Context, context.CancelFunc) {
	if o.Timeout == option.Off {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, o.Timeout)
}

// info returns one INFO section as a map.
func info(ctx context.Context, c redis.Cmdable, section string) (map[string]string, error) {
	s, err := c.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m, nil
}

func infoInt(m map[string]string, key string) int64 {
	n, _ := strconv.ParseInt(m[key], 10, 64)
	return n
}

// permanentError stops a poll at once.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// transient reports whether a poll may try again after err: network errors, and the replies of a
// server busy loading or syncing. Other replies (NOAUTH, NOPERM, WRONGTYPE...) are final.
func transient(err error) bool {
	var p permanentError
	if errors.As(err, &p) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if !noretry.IsReply(err) {
		return true
	}
	for _, prefix := range []string{"LOADING", "MASTERDOWN", "BUSY", "TRYAGAIN"} {
		if redis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}

// poll calls f until it reports done, returns a final error, or ctx ends. The pause starts at first
// and doubles up to maxPoll. On ctx's end the error wraps ctx.Err() and names f's last error.
func poll(ctx context.Context, first time.Duration, f func() (bool, error)) error {
	d := first
	var last error
	for {
		done, err := f()
		if done {
			return nil
		}
		if err != nil {
			if !transient(err) {
				return noretry.CtxErr(ctx, err)
			}
			last = err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			if last != nil {
				return noretry.CtxErr(ctx, last)
			}
			return ctx.Err()
		case <-t.C:
		}
		d = min(2*d, maxPoll)
	}
}

// deadlineErr wraps err in sentinel when ctx has ended (the deadline, or the caller's cancel, is
// why the call failed), as the functions' docs promise; otherwise it prefixes what was being done.
func deadlineErr(ctx context.Context, sentinel error, what string, err error) error {
	if err == nil {
		return nil
	}
	if noretry.Ended(ctx) {
		return fmt.Errorf("%w: %s: %w", sentinel, what, noretry.CtxErr(ctx, err))
	}
	return fmt.Errorf("sync: %s: %w", what, err)
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// The time a call keeps for its cleanup: a quarter of the time left, at least minReserve (a tenth,
// 100 ms of a 1 s call, was too short for one ZREM on a loaded machine), at most maxReserve.
const (
	minReserve = 50 * time.Millisecond
	maxReserve = 250 * time.Millisecond
)

// reserve returns a context for a call's waiting that ends the reserve (see minReserve) before
// ctx's deadline, and the reserve: the call's cleanup runs in it, so a call whose server does not
// answer still returns by its deadline.
func reserve(ctx context.Context) (context.Context, time.Duration, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok { // Timeout off and ctx without a deadline: nothing to keep a reserve from
		wctx, cancel := context.WithCancel(ctx)
		return wctx, maxReserve, cancel
	}
	left := time.Until(dl)
	r := min(maxReserve, max(minReserve, left/4), max(left, 0))
	wctx, cancel := context.WithDeadline(ctx, dl.Add(-r))
	return wctx, r, cancel
}

// cleanup removes token (if any) and tokens older than MaxAge from sync:wait on the master. ctx is
// the call's: cleanup runs after the waiting ended, even on its deadline, until the call's
// deadline (the reserve kept by reserve), or for at most r after the caller cancelled.
func cleanup(ctx context.Context, master redis.Cmdable, o *Options, token string, r time.Duration) error {
	end := time.Now().Add(r)
	if dl, ok := ctx.Deadline(); ok && !errors.Is(ctx.Err(), context.Canceled) {
		end = dl
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), end)
	defer cancel()
	_, err := master.Pipelined(ctx, func(p redis.Pipeliner) error {
		if token != "" {
			p.ZRem(ctx, waitKey, token)
		}
		if o.MaxAge != option.Off {
			p.ZRemRangeByScore(ctx, waitKey, "-inf", "("+strconv.FormatFloat(unixSeconds(o.Now().Add(-o.MaxAge)), 'f', -1, 64))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCleanup, err)
	}
	return nil
}
