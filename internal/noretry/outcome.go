package noretry

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Outcome is what an error from go-redis says about the command it belongs to: whether the server
// saw it. Every package decides "was it sent, is this a reply" here, so they never disagree.
type Outcome int

const (
	// Done: no error.
	Done Outcome = iota
	// NotSent: the command never reached the network (the dial failed, the pool timed out or
	// was exhausted, the client was closed). Nothing ran; it is safe to send again.
	NotSent
	// Reply: the server answered with an error (redis.Nil included). The server saw the command;
	// whether a refusal ran anything depends on the command (EXECABORT ran nothing).
	Reply
	// Unknown: the command may have reached the server and no reply came back (a read or write
	// error, a timeout, a cancelled context). It may or may not have run.
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case Done:
		return "done"
	case NotSent:
		return "not sent"
	case Reply:
		return "reply"
	}
	return "unknown"
}

// Classify says what err tells about the command that returned it.
func Classify(err error) Outcome {
	switch {
	case err == nil:
		return Done
	case IsReply(err):
		return Reply
	case NotSentErr(err):
		return NotSent
	}
	return Unknown
}

// IsReply reports whether err is the server's own answer (an error reply, or redis.Nil), as opposed
// to a failure to talk to it.
func IsReply(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, redis.Nil) {
		return true
	}
	var re redis.Error
	return errors.As(err, &re)
}

// IsErrorReply is IsReply without redis.Nil: the server refused the command.
func IsErrorReply(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && IsReply(err)
}

// NotSentErr reports whether err certainly happened before the command reached the network.
func NotSentErr(err error) bool {
	if err == nil || IsReply(err) {
		return false
	}
	var op *net.OpError
	return errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, redis.ErrPoolExhausted) || (errors.As(err, &op) && op.Op == "dial") ||
		badConn(err)
}

// badConn reports go-redis's refusal to use a *redis.Conn whose connection already failed: its
// sticky pool returns it from Get, before anything is written. The type (pool.BadConnError) is in
// go-redis's internal package, so it is known by its message; it wraps the earlier failure (an EOF,
// say), which must not make the new command look sent.
func badConn(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.HasPrefix(e.Error(), "redis: Conn is in a bad state") {
			return true
		}
	}
	return false
}

// Transport reports whether err is a failure to talk to the server (not sent, or unknown): the
// server's reply, redis.Nil included, belongs to the command instead.
func Transport(err error) bool { return err != nil && !IsReply(err) }

// CtxErr makes err say why ctx ended. go-redis reports a deadline it enforced on the socket as
// "i/o timeout", or a dial's own error, so the same expired ctx gives a different error each time.
// When ctx has ended and err does not already wrap ctx.Err(), the result wraps both err and
// ctx.Err(): errors.Is holds for either, and err's own sentinels still match.
func CtxErr(ctx context.Context, err error) error {
	if err == nil || !Ended(ctx) {
		return err
	}
	cerr := ctx.Err()
	if errors.Is(err, cerr) {
		return err
	}
	return &ctxError{err: err, ctx: cerr}
}

// Ended reports whether ctx has ended. A deadline that has passed counts, even in the instant before
// ctx's own timer marks it done (go-redis's socket deadline, taken from ctx, can fire first): then
// Ended waits for that timer (a second at most), so ctx.Err() is set when it returns true.
func Ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		t := time.NewTimer(time.Second) // a Context whose Done never closes must not hang the caller
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		return ctx.Err() != nil
	}
	return false
}

type ctxError struct{ err, ctx error }

func (e *ctxError) Error() string   { return e.err.Error() + " (" + e.ctx.Error() + ")" }
func (e *ctxError) Unwrap() []error { return []error{e.err, e.ctx} }

// IsSlotMoving reports whether err is a reply a Redis Cluster gives while a slot is served elsewhere
// or is moving: MOVED, ASK (IsRedirect), or TRYAGAIN (a multi-key command whose keys the move has
// split). The node ran nothing of the command. Like IsRedirect it reads err itself, not what err
// wraps: a caller's wrapped error is its own verdict.
func IsSlotMoving(err error) bool {
	return IsRedirect(err) || (IsErrorReply(err) && strings.HasPrefix(err.Error(), "TRYAGAIN "))
}

// IsRedirect reports whether err is a Redis Cluster MOVED or ASK reply: the node did not run the
// command, because the key's slot is served elsewhere (or is moving there).
func IsRedirect(err error) bool {
	if !IsErrorReply(err) {
		return false
	}
	s := err.Error()
	return strings.HasPrefix(s, "MOVED ") || strings.HasPrefix(s, "ASK ")
}
