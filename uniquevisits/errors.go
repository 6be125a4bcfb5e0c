package uniquevisits

import "errors"

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

	// ErrNoClient: the Counter was made with a nil registry (New) or a nil client (NewOnClient).
	ErrNoClient = errors.New("uniquevisits: counter has no registry or client")
)
