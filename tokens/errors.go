package tokens

import (
	"errors"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/option"
)

// Once ctx has ended, every error also matches ctx.Err(), whatever go-redis reported (a deadline it
// enforced on the socket reads "i/o timeout").
var (
	// ErrInvalidToken: the token is empty.
	ErrInvalidToken = errors.New("tokens: invalid token")

	// ErrInvalidUser: the user is empty.
	ErrInvalidUser = errors.New("tokens: invalid user")

	// ErrUnknownOutcome: commands were sent and a reply was lost (network error, timeout, cancelled
	// context): any of them may have been applied, ZINCRBY included. It wraps the cause. Do not
	// retry blindly: ZINCRBY is not idempotent.
	ErrUnknownOutcome = errors.New("tokens: outcome unknown")

	// ErrBadOption: an Options field holds a value the option rule refuses. The rule is the same in
	// every package of the module (go-redis's): 0 means the default, -1 means off where the field's
	// doc says so, and any other negative value is an error. The error is an *OptionError naming the
	// field; ErrBadOption is one value shared by all the packages (conn.ErrBadOption is the same).
	ErrBadOption = option.ErrBadOption

	// ErrNotDurable: with Options.Durable, the update was applied on the master(s), but too few
	// replicas confirmed it in time (or the connection broke first). The Update is filled in as on
	// success; it is not ErrUnknownOutcome. The error holds a *DurableError per server not
	// confirmed, giving the replicas that confirmed and the number wanted.
	ErrNotDurable = durable.ErrNotDurable

	// ErrNoNode: Options.Durable is on and the client is neither a *redis.Client nor a
	// *redis.ClusterClient (a Ring, a pipeline): no connection can carry the writes and their WAIT
	// together. Nothing was sent.
	ErrNoNode = durable.ErrNoNode
)

// OptionError is the error New returns for a refused Options field: it names the Options type, the
// field and the value, and matches ErrBadOption.
type OptionError = option.Error

// DurableError is an update not confirmed durable on one server: Replicas confirmed (-1: unknown) of
// Wanted, Node (that server's address), and Err, the transport or ctx error that stopped the wait, if
// any. It matches ErrNotDurable.
type DurableError = durable.Error
