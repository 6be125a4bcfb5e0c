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
// Concurrent updates of one token keep the book's last-writer-wins: recent: holds the timestamp of
// the ZADD that reached Redis last, which may be the earlier of two updates that overlapped.
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
// All keys are written independently, so the functions run unchanged on Redis Cluster (a
// ClusterClient splits the pipeline into one per node, in parallel); the four keys need no hash tag.
//
// # Durable mode
//
// With Options.Durable (Replicas > 0) an update is acknowledged only once that many replicas have it:
// a WAIT follows the writes on their own connection (internal/durable's package doc says why it must
// be the same one, and what WAIT does not promise: the replicas have the writes in memory, not on
// disk, and a failover may still pick a replica that lacks them). UpdateTokenPipeline ends its
// pipeline with the WAIT, so it stays one round trip; UpdateToken sends its commands on one
// connection and the WAIT as one more round trip. On a Redis Cluster each key's commands go to its
// slot's master: the pipeline becomes one pipeline per key, each ending with a WAIT, in parallel, and
// UpdateToken waits on each master it wrote to. While a slot moves, a command refused with MOVED
// goes again to the slot's new master, and one refused with ASK (its key moved, the slot still
// migrating) to the importing master after ASKING, one command at a time, confirmed there. Either
// way the cost is one WAIT round trip, as long
// as the slowest of the Replicas replicas takes. An update applied but not confirmed in time returns
// its Update and ErrNotDurable (one *DurableError per server not confirmed), not
// ErrUnknownOutcome: the writes ran on the master. The client must be a *redis.Client (a single
// server, or go-redis's FailoverClient for Sentinel) or a *redis.ClusterClient, else ErrNoNode
// before anything is sent. The package-level UpdateToken and UpdateTokenPipeline use the default
// Options, so they stay the book's: no WAIT.
package tokens
