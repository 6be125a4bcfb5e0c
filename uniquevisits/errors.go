package uniquevisits

import "errors"

var (
	// ErrBadSessionID: the session id does not start with 15 hexadecimal digits (dashes ignored).
	// The message gives the length and position of the problem, never the id, which is a secret.
	ErrBadSessionID = errors.New("uniquevisits: malformed session id")

	// ErrBadCount: a stored count or expected size is not a positive integer Redis could have written.
	ErrBadCount = errors.New("uniquevisits: stored count is not a valid integer")

	// ErrUncounted: the id was added to its set but the day's count was not incremented (the INCR
	// failed, say the unsharded server went away). The visit is recorded; calling CountVisit again
	// will not count it, because the id is no longer new. Recount gives the exact figure from the sets.
	ErrUncounted = errors.New("uniquevisits: visit recorded but the daily count was not incremented")

	// ErrNoClient: the Counter was made with a nil registry (New) or a nil client (NewOnClient).
	ErrNoClient = errors.New("uniquevisits: counter has no registry or client")
)
