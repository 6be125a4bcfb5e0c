// Package tokens records a logged-in user's activity, Redis in Action section 4.5: update_token and
// update_token_pipeline.
//
// # Data (the book's layout, shared with its Python code)
//
//	login:          HASH  token -> user
//	recent:         ZSET  token scored by when it was last seen
//	viewed:<token>  ZSET  items the token viewed, scored by when; only the latest 25 are kept
//	viewed:         ZSET  every item scored by minus its number of views (ZINCRBY -1)
//
// Timestamps are Unix seconds with a fraction, like Python's time.time(), from an injectable clock.
//
// UpdateToken sends each command on its own (2 round trips, 5 with an item); UpdateTokenPipeline
// sends them together in one non-transactional pipeline (the book's pipeline(False)): one round trip,
// no MULTI/EXEC, so other clients' commands may run between them. Both write the same data.
//
// # Failures
//
// An error reply (say WRONGTYPE) does not undo the commands that succeeded before it (UpdateToken
// stops at the first; the pipeline runs them all). A lost reply is ErrUnknownOutcome: any of the
// commands may have been applied. Once ctx has ended, the error also matches ctx.Err()
// (context.DeadlineExceeded or context.Canceled), even when go-redis saw the end as a socket
// deadline ("i/o timeout").
//
// ZINCRBY is not idempotent, so nothing here retries, and the client cannot either: go-redis resends
// a command or pipeline after a network error by default (MaxRetries 3), which would count a view
// twice, so the ZINCRBY is marked never to be resent (go-redis's per-command NoRetry; it also keeps
// the pipeline holding it from being resent). Any go-redis client is safe; a lost reply is
// ErrUnknownOutcome.
//
// Options follow go-redis's rule, as in every package of the module: 0 means the default, -1 means
// off (Keep -1: no limit on viewed:<token>), and any other negative value makes New return an
// *OptionError naming the field (matching ErrBadOption).
//
// All keys are written independently, so the functions work on Redis Cluster too (a ClusterClient
// splits the pipeline per node).
package tokens
