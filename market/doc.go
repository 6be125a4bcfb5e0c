// Package market is the marketplace of Redis in Action, section 4.4: users list items from their
// inventory and buy each other's listings, with money and items conserved under any concurrency.
//
// # Data (the book's layout, shared with its Python code)
//
//	users:<id>      HASH  funds (an integer), name
//	inventory:<id>  SET   item ids
//	market:         ZSET  "<item>.<seller>" scored by price
//
// With Options.HashTag t (opt-in), every key starts with "{t}": "{t}users:<id>", "{t}inventory:<id>",
// "{t}market:". The book's Python code does not read those keys. See Clients for why one would.
//
// # Two implementations, one interface
//
// Watch (ListItem, PurchaseItem) is the book's list_item and purchase_item: WATCH, read through the
// watched connection, MULTI/EXEC, and a new attempt only when EXEC reports the lock lost
// (redis.TxFailedErr), until Options.ListTimeout (5 s) or PurchaseTimeout (10 s) or ctx ends.
// Every purchase watches market:, so under load most attempts lose: Purchase.Retries and
// Listing.Retries report how many attempts were made after the first.
//
// Script (ListItemScript, PurchaseItemScript) does each operation in one Lua script: one round trip,
// no lock to lose, no retries, same outcomes and data. Both satisfy Market; they can run against the
// same data at once.
//
// # Outcomes
//
// Every outcome is a sentinel error (see errors.go). All of them except ErrUnknownOutcome and
// ErrNotDurable mean that nothing was written. Input is checked before any I/O: ids must be non-empty and free of "."
// (ErrInvalidID), prices between 1 and MaxPrice (ErrInvalidPrice). Money is an int64; a funds field
// that HINCRBY would refuse is ErrBadFunds. When the commit request (EXEC, or EVALSHA) was sent and
// its reply lost, the operation may or may not have happened: ErrUnknownOutcome, never a success
// and never a silent retry. In the durable mode a write that ran on the master but was not confirmed
// by enough replicas returns its Listing or Purchase filled in as on success, and an error matching
// ErrNotDurable (not ErrUnknownOutcome: it ran).
//
// Once ctx has ended, the error matches ctx.Err() (context.DeadlineExceeded or context.Canceled) as
// well as the outcome's sentinel, whether go-redis noticed the end itself or as a socket deadline
// ("i/o timeout"). ErrContention at the option's deadline matches context.DeadlineExceeded. Which
// errors mean "not sent" and which are the server's reply is decided by one rule for the whole
// toolkit (internal/noretry).
//
// Options follow go-redis's rule, as in every package of the module: 0 means the default, -1 means
// off (no deadline of the option's own: attempts go on until ctx ends), and any other negative value
// makes NewWatch or NewScript return an *OptionError naming the field (matching ErrBadOption).
//
// # Clients
//
// Any client works, retrying or not: go-redis resends a command after a network error by default
// (MaxRetries 3), but never a lost EXEC reply, and Script marks its EVALSHA not to be resent
// (go-redis's per-command NoRetry), so a lost reply is ErrUnknownOutcome rather than a second run
// that finds the item sold and reports ErrNotListed for a purchase that happened. Both variants
// run on a single server, a Sentinel-managed master, and (with a hash tag) Redis Cluster or a Ring.
//
// On Redis Cluster the keys must share a hash slot, for MULTI/EXEC as for a script, and the book's
// keys do not: with a *redis.ClusterClient or *redis.Ring and the book's layout, every write returns
// ErrCrossSlot before any I/O. Either put the market component on its own server (its config in
// config:redis:market can name any single server), or set Options.HashTag and use NewWatch or
// NewScript (and their Cheapest and User): then every key is in the tag's slot, WATCH and EVALSHA
// go to that slot's master, and a Ring sends them all to one shard. The cost: the whole market is
// one slot, so on one master. It does not scale across masters (more masters do not make it faster
// or larger); moving the slot (CLUSTER SETSLOT, or resharding) moves the whole market.
//
// # Durable mode
//
// With Options.Durable.Replicas n, a write is acknowledged only once n replicas have it: after EXEC
// (on the Tx's connection) or with the EVALSHA (in one pipeline on one connection) goes a WAIT, on
// the master of the keys' slot for a cluster (a Ring cannot: ErrNoNode). It costs a WAIT per write,
// waiting for the slowest of the n replicas, up to Durable.Timeout (1 s); a script the server lacks
// (NOSCRIPT) costs one more. A refusal wrote nothing: it is its own error, never ErrNotDurable (for
// Script its WAIT was sent all the same, in the pipeline). Off by default: no WAIT is sent.
//
// What WAIT does not promise, the cases in which Redis can still lose a confirmed write: the
// replicas have it in memory, not on disk (Redis 7.2's WAITAOF is not in 7.0), so a replica
// restarted without persistence forgets it; with Replicas below the number of replicas, Sentinel
// may promote one that lacks it (it compares replication offsets from INFO replies that can be a
// second old); a manual failover (CLUSTER FAILOVER TAKEOVER, REPLICAOF NO ONE) can pick any
// replica; and other clients may read the write before it is confirmed. The fault test
// internal/faulttest/failover measures it: 20 Sentinel failovers by SIGKILL or SIGSTOP, Replicas 2
// of 2, lost no confirmed write, and none of those cases arose there (no replica was restarted and
// every replica was waited for), while the book's mode lost about 5 acknowledged writes per failover.
//
// # Fixed from the book
//
//   - The book returns None for "not in inventory", "sold", "price changed" and "insufficient funds"
//     alike, and False when it gives up; here each is a distinct error.
//   - purchase_item computes int(hget(buyer, "funds")), which raises on a user without funds; here
//     missing funds are 0.
//   - MULTI/EXEC does not roll back: a HINCRBY on non-integer funds (or one that overflows) fails
//     inside EXEC while the other writes apply, losing money or an item. Both users' funds are
//     checked first, so the seller's hash is watched too.
//   - Listing an item already listed by the same seller overwrote its price and destroyed an item;
//     buying an item id the buyer already owns did the same (inventories are SETs). Both are refused
//     (ErrAlreadyListed, ErrAlreadyOwned).
//   - A price is compared exactly: ZSET scores are doubles, so prices stop at 2^53.
//   - The loop makes at least one attempt, and stops when ctx ends as well as at its deadline.
package market
