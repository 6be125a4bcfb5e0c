package sync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

// failHook fails the commands and pipelines its functions pick (nil picks none) without sending them.
type failHook struct {
	cmd  func(redis.Cmder) error
	pipe func([]redis.Cmder) error
}

func (failHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h failHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.cmd != nil {
			if err := h.cmd(cmd); err != nil {
				return err
			}
		}
		return next(ctx, cmd)
	}
}

func (h failHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.pipe != nil {
			if err := h.pipe(cmds); err != nil {
				for _, c := range cmds {
					c.SetErr(err)
				}
				return err
			}
		}
		return next(ctx, cmds)
	}
}

// replyError is an error reply from the server (a redis.Error), which poll does not retry.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func isInfo(cmd redis.Cmder, section string) bool {
	args := cmd.Args()
	return cmd.Name() == "info" && len(args) == 2 && args[1] == section
}

// sweep checks that a later call removes tokens left behind: MaxAge 1 ns makes every earlier token old.
func sweep(t *testing.T, m, rc redis.Cmdable) {
	t.Helper()
	if _, err := WaitForSync(context.Background(), m, rc, &Options{MaxAge: time.Nanosecond}); err != nil {
		t.Fatalf("sweeping call: %v", err)
	}
	if got := tokens(t, m); len(got) != 0 {
		t.Fatalf("tokens left after a sweeping call: %v", got)
	}
}

// TestWaitForSyncNotDurable: the token reaches an AOF replica, but FsyncWait outlasts Timeout, so the
// fsync is never confirmed: ErrNotDurable at the deadline, not a silent success.
func TestWaitForSyncNotDurable(t *testing.T) {
	r := redistest.RunReplicatedT(t, &redistest.Options{AOF: true})
	m, rc := r.Master.Client(t), r.Replica.Client(t)
	// A first sync, so the token of the call under test reaches the replica well within its Timeout
	// even on a loaded machine: only the fsync may be what is missing.
	if _, err := WaitForSync(context.Background(), m, rc, nil); err != nil {
		t.Fatalf("warm-up sync: %v", err)
	}
	const timeout = time.Second
	start := time.Now()
	res, err := WaitForSync(context.Background(), m, rc, &Options{Timeout: timeout, FsyncWait: 5 * time.Second})
	elapsed := time.Since(start)
	if !errors.Is(err, ErrNotDurable) || !errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrNotSynced) || errors.Is(err, ErrCleanup) {
		t.Fatalf("err %v; want ErrNotDurable wrapping DeadlineExceeded (not ErrNotSynced, not ErrCleanup)", err)
	}
	if res.Durable || !res.AOF || res.Fsync != "everysec" {
		t.Fatalf("result %+v; want AOF everysec, not durable", res)
	}
	if elapsed > timeout*3/2 { // a correctness bound: never past the deadline, with slack for load
		t.Fatalf("returned after %v; Timeout %v", elapsed, timeout)
	}
	if got := tokens(t, m); len(got) != 0 {
		t.Fatalf("token left: %v", got)
	}
}

// TestWaitForSyncPersistenceUnreadable: the token arrived but INFO persistence fails. A refusal is
// ErrNotDurable wrapping it, at once; a network-like error is retried until the deadline.
func TestWaitForSyncPersistenceUnreadable(t *testing.T) {
	r := redistest.RunReplicatedT(t, &redistest.Options{AOF: true})
	m := r.Master.Client(t)

	refused := replyError("NOPERM this user has no permissions to run the 'info' command")
	rc := r.Replica.Client(t)
	rc.AddHook(failHook{cmd: func(cmd redis.Cmder) error {
		if isInfo(cmd, "persistence") {
			return refused
		}
		return nil
	}})
	// A minute: were the refusal retried, the test would hit the deadline and fail.
	res, err := WaitForSync(context.Background(), m, rc, &Options{Timeout: time.Minute})
	if !errors.Is(err, ErrNotDurable) || !errors.Is(err, refused) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("refused: err %v; want ErrNotDurable wrapping the refusal, before the deadline", err)
	}
	if res.Durable {
		t.Fatalf("refused: result %+v claims durability", res)
	}

	flaky := errors.New("connection reset by peer")
	rc2 := r.Replica.Client(t)
	rc2.AddHook(failHook{cmd: func(cmd redis.Cmder) error {
		if isInfo(cmd, "persistence") {
			return flaky
		}
		return nil
	}})
	res, err = WaitForSync(context.Background(), m, rc2, &Options{Timeout: time.Second})
	if !errors.Is(err, ErrNotDurable) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), flaky.Error()) {
		t.Fatalf("flaky: err %v; want ErrNotDurable at the deadline naming the last error", err)
	}
	if res.Durable {
		t.Fatalf("flaky: result %+v claims durability", res)
	}
	if got := tokens(t, m); len(got) != 0 {
		t.Fatalf("token left: %v", got)
	}
}

// TestCleanupFails: the master refuses the removal. The result stands, the error is ErrCleanup
// alone, the token stays, and a later call removes it once it is older than MaxAge.
func TestCleanupFails(t *testing.T) {
	ctx := context.Background()
	r := redistest.RunReplicatedT(t, nil)
	m, rc := r.Master.Client(t), r.Replica.Client(t)
	refused := replyError("READONLY You can't write against a read only replica.")
	failing := r.Master.Client(t)
	failing.AddHook(failHook{pipe: func(cmds []redis.Cmder) error {
		for _, c := range cmds {
			if c.Name() == "zremrangebyscore" {
				return refused
			}
		}
		return nil
	}})
	writeKeys(t, failing, "c", 10)

	res, err := WaitForSync(ctx, failing, rc, nil)
	if !errors.Is(err, ErrCleanup) || !errors.Is(err, refused) || errors.Is(err, ErrNotSynced) || errors.Is(err, ErrNotDurable) {
		t.Fatalf("WaitForSync: err %v; want ErrCleanup alone", err)
	}
	if res.Token == "" || res.AOF || !strings.Contains(res.Note, "appendonly off") {
		t.Fatalf("WaitForSync: result %+v; want the wait's result", res)
	}
	checkKeys(t, rc, "c", 10)

	acks, err := WaitReplicas(ctx, failing, nil)
	if !errors.Is(err, ErrCleanup) || errors.Is(err, ErrTooFewReplicas) || acks.Replicas != 1 {
		t.Fatalf("WaitReplicas: got %+v, %v; want 1 acknowledgement and ErrCleanup alone", acks, err)
	}

	got := tokens(t, m)
	if len(got) != 2 || !(got[0] == res.Token || got[1] == res.Token) {
		t.Fatalf("sync:wait holds %v; want the two tokens left behind, %s among them", got, res.Token)
	}
	sweep(t, m, rc)
}
