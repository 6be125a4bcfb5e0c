package tokens

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
)

// Options configure an Updater. They follow go-redis's rule, as in every package of the module: 0
// means the default, -1 means off, and any other negative value makes New return an *OptionError
// naming the field (see ErrBadOption).
type Options struct {
	// Now is the clock whose Unix seconds become the timestamps.
	// default: time.Now
	Now func() time.Time

	// Keep is how many recently viewed items each token keeps.
	// default: 25 (the book's); -1: no limit (every view is kept, and the ZREMRANGEBYRANK that
	// trims viewed:<token> is not sent)
	Keep int

	// Durable makes UpdateToken and UpdateTokenPipeline wait, after the writes and on their own
	// connection, until Durable.Replicas replicas have them (WAIT); see the package doc. The
	// client must then be a *redis.Client or a *redis.ClusterClient.
	// default: off (Replicas 0), the book's behaviour; Timeout default: 1 second, -1: until ctx ends
	Durable Durability
}

// Durability says when an update counts as acknowledged: once Replicas replicas have it, waited for
// at most Timeout. Its fields follow the option rule; errors name them "Durable.Replicas" and
// "Durable.Timeout".
type Durability = durable.Options

var optionsOf = option.Of{Type: "tokens.Options"}

// init checks o by the option rule and fills the defaults.
func (o *Options) init() error {
	if o.Now == nil {
		o.Now = time.Now
	}
	return option.Join(
		option.Fill(optionsOf, "Keep", &o.Keep, 25, true),
		o.Durable.Fill(optionsOf, "Durable."),
	)
}

// Update is the result of an update. On error it still carries the arguments and the timestamp.
type Update struct {
	Token, User, Item string
	Timestamp         float64 // written to recent: and viewed:<token>, Unix seconds
	Commands          int     // commands sent: 2, or 5 with an item (4 with Keep -1); WAITs not counted
	// RoundTrips is the round trips the function asks for, by design: Commands without the
	// pipeline, 1 with it (a ClusterClient splits that pipeline into one per node, in parallel).
	// Durable, UpdateToken asks for one more (the WAITs, in parallel); the pipeline carries its WAIT.
	// Tests count the commands and pipelines go-redis actually processes with a hook.
	RoundTrips int
}

// Updater records token activity; safe for concurrent use.
type Updater struct {
	opt Options
}

// New returns an Updater; opt may be nil for the defaults. An option the rule refuses is an
// *OptionError (see ErrBadOption).
func New(opt *Options) (*Updater, error) {
	u := &Updater{}
	if opt != nil {
		u.opt = *opt
	}
	if err := u.opt.init(); err != nil {
		return nil, err
	}
	return u, nil
}

var std = func() *Updater {
	u, _ := New(nil) // zero values are always valid
	return u
}()

// UpdateToken is the book's update_token with default Options: each command sent on its own.
func UpdateToken(ctx context.Context, c redis.Cmdable, token, user, item string) (Update, error) {
	return std.UpdateToken(ctx, c, token, user, item)
}

// UpdateTokenPipeline is the book's update_token_pipeline with default Options: one pipeline.
func UpdateTokenPipeline(ctx context.Context, c redis.Cmdable, token, user, item string) (Update, error) {
	return std.UpdateTokenPipeline(ctx, c, token, user, item)
}

// command is one step of an update: its key (so a durable update finds the key's node) and how to
// send it.
type command struct {
	key  string
	send func(ctx context.Context, c redis.Cmdable) redis.Cmder
}

// commands are the update's commands, in the book's order. An empty item records only the login.
func (u *Updater) commands(token, user, item string, ts float64) []command {
	cmds := []command{
		{keyLogin, func(ctx context.Context, c redis.Cmdable) redis.Cmder { return c.HSet(ctx, keyLogin, token, user) }},
		{keyRecent, func(ctx context.Context, c redis.Cmdable) redis.Cmder {
			return c.ZAdd(ctx, keyRecent, redis.Z{Score: ts, Member: token})
		}},
	}
	if item == "" {
		return cmds
	}
	viewed := keyViewed(token)
	cmds = append(cmds, command{viewed, func(ctx context.Context, c redis.Cmdable) redis.Cmder {
		return c.ZAdd(ctx, viewed, redis.Z{Score: ts, Member: item})
	}})
	if u.opt.Keep != option.Off {
		cmds = append(cmds, command{viewed, func(ctx context.Context, c redis.Cmdable) redis.Cmder {
			return c.ZRemRangeByRank(ctx, viewed, 0, int64(-u.opt.Keep-1))
		}})
	}
	// Never resent by go-redis: a resent ZINCRBY whose reply was lost counts the view twice.
	return append(cmds, command{keyViews, func(ctx context.Context, c redis.Cmdable) redis.Cmder {
		return noretry.ZIncrBy(ctx, c, keyViews, -1, item)
	}})
}

func (u *Updater) start(ctx context.Context, token, user, item string) (Update, error) {
	up := Update{Token: token, User: user, Item: item}
	switch {
	case token == "":
		return up, fmt.Errorf("%w: empty", ErrInvalidToken)
	case user == "":
		return up, fmt.Errorf("%w: empty", ErrInvalidUser)
	}
	if err := ctx.Err(); err != nil {
		return up, fmt.Errorf("tokens: %w", err)
	}
	now := u.opt.Now()
	up.Timestamp = float64(now.UnixMicro()) / 1e6
	return up, nil
}

// UpdateToken records that token belongs to user and was seen now, and, when item is not empty,
// that it viewed item: up to 5 commands, each its own round trip. It stops at the first error.
func (u *Updater) UpdateToken(ctx context.Context, c redis.Cmdable, token, user, item string) (Update, error) {
	up, err := u.updateToken(ctx, c, token, user, item)
	return up, noretry.CtxErr(ctx, err)
}

func (u *Updater) updateToken(ctx context.Context, c redis.Cmdable, token, user, item string) (Update, error) {
	up, err := u.start(ctx, token, user, item)
	if err != nil {
		return up, err
	}
	if u.opt.Durable.On() {
		return u.updateTokenDurable(ctx, c, up)
	}
	for _, f := range u.commands(token, user, item, up.Timestamp) {
		up.Commands++
		up.RoundTrips++
		cmd := f.send(ctx, c)
		if err := cmd.Err(); err != nil {
			return up, commandError(cmd.Name(), up.Commands-1, err)
		}
	}
	return up, nil
}

// commandError is the error of command name, sent after before commands that were applied.
func commandError(name string, before int, err error) error {
	note := ""
	if before > 0 {
		note = fmt.Sprintf(" (the %d commands before it were applied)", before)
	}
	return classify(name, note, err)
}

// UpdateTokenPipeline does what UpdateToken does in one non-transactional pipeline: one round trip.
// Every command runs even if another fails; the first error is returned.
func (u *Updater) UpdateTokenPipeline(ctx context.Context, c redis.Cmdable, token, user, item string) (Update, error) {
	up, err := u.updateTokenPipeline(ctx, c, token, user, item)
	return up, noretry.CtxErr(ctx, err)
}

func (u *Updater) updateTokenPipeline(ctx context.Context, c redis.Cmdable, token, user, item string) (Update, error) {
	up, err := u.start(ctx, token, user, item)
	if err != nil {
		return up, err
	}
	if u.opt.Durable.On() {
		return u.updateTokenPipelineDurable(ctx, c, up)
	}
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, f := range u.commands(token, user, item, up.Timestamp) {
			f.send(ctx, p)
		}
		return nil
	})
	up.Commands, up.RoundTrips = len(cmds), 1
	return up, pipelineError(cmds, len(cmds), err)
}

// pipelineError is the error of a pipeline of total writes, cmds those that were queued, whose first
// error is err (nil: none).
func pipelineError(cmds []redis.Cmder, total int, err error) error {
	if err == nil {
		return nil
	}
	name, ok := "pipeline", 0
	for _, cmd := range cmds {
		if cmd.Err() == nil {
			ok++
		} else if name == "pipeline" {
			name = cmd.Name()
		}
	}
	// Every command of a pipeline runs whatever the others do: say how many are known to be applied.
	note := fmt.Sprintf(" (%d of the %d commands confirmed applied)", ok, total)
	return classify(name, note, err)
}

// classify wraps err from command name, adding note (what is known applied). A reply from the
// server is a plain error; a network error that may have come after sending is ErrUnknownOutcome.
// What was sent and what is a reply is noretry's rule, shared with every package.
func classify(name, note string, err error) error {
	switch noretry.Classify(err) {
	case noretry.Reply:
		return fmt.Errorf("tokens: %s: %w%s", name, err, note)
	case noretry.NotSent:
		return fmt.Errorf("tokens: %s: not sent: %w%s", name, err, note)
	}
	return fmt.Errorf("%w: %s: %w%s", ErrUnknownOutcome, name, err, note)
}
