package uniquevisits

import (
	"errors"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/option"
)

// OptionError is the error New and NewOnClient return for a refused Options field: it names the
// Options type, the field and the value, and matches ErrBadOption.
type OptionError = option.Error

// Durability says when a write counts as acknowledged: once Replicas replicas have it, waited for at
// most Timeout (Options.Durable, BitmapOptions.Durable). Its fields follow the option rule; errors
// name them "Durable.Replicas" and "Durable.Timeout".
type Durability = durable.Options

// DurableError is a write not confirmed durable on one server: Replicas confirmed (-1: unknown) of
// Wanted, Node (that server's address), and Err, the transport or ctx error that stopped the wait, if
// any. It matches ErrNotDurable.
type DurableError = durable.Error

var (
	// ErrBadSessionID: the session id is not a UUID in a spelling CanonicalSessionID accepts. The
	// error is a *SessionIDError giving the length and position of the problem, never the id, which
	// is a secret.
	ErrBadSessionID = errors.New("uniquevisits: malformed session id")

	// ErrBadCount: a stored count or expected size is not a positive integer Redis could have written.
	ErrBadCount = errors.New("uniquevisits: stored count is not a valid integer")

	// ErrUncounted: the id was added to its set but the day's count was not confirmed incremented:
	// the INCR failed (say the unsharded server went away), or, with ErrUnknownOutcome as well, its
	// reply was lost and it may have run. The visit is recorded; calling CountVisit again will not
	// count it, because the id is no longer new. Recount gives the exact figure from the sets.
	ErrUncounted = errors.New("uniquevisits: visit recorded but the daily count was not incremented")

	// ErrUnknownOutcome: a write (SADD, INCR, PFADD, SETNX) was sent and its reply lost (a network
	// error, a timeout, a cancelled context): it may or may not have run. A write the server refused,
	// or that never left the client, is a plain error instead.
	ErrUnknownOutcome = errors.New("uniquevisits: outcome unknown")

	// ErrNoClient: New was given a nil registry, or NewOnClient a nil client (or a Counter not made
	// by either was used).
	ErrNoClient = errors.New("uniquevisits: counter has no registry or client")

	// ErrBadOption: an Options field holds a value the option rule refuses. The rule is the same in
	// every package of the module (go-redis's): 0 means the default, -1 means off where the field's
	// doc says so, and any other negative value is an error. The error is an *OptionError naming the
	// field; ErrBadOption is one value shared by all the packages (conn.ErrBadOption is the same).
	ErrBadOption = option.ErrBadOption

	// ErrNotDurable: in the durable mode, the visit's writes were applied on the master(s), but too
	// few replicas confirmed them in time (or the connection broke first). The Visit is filled in as
	// on success (New, Count); it is not ErrUnknownOutcome. The error holds a *DurableError per
	// server not confirmed.
	ErrNotDurable = durable.ErrNotDurable

	// ErrNoNode: the durable mode is on and a client is neither a *redis.Client nor a
	// *redis.ClusterClient (a Ring, a pipeline): no connection can carry a write and its WAIT
	// together. Nothing was sent.
	ErrNoNode = durable.ErrNoNode
)
