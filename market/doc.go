// Package market is the marketplace of Redis in Action, section 4.4: users list items from their
// inventory and buy each other's listings, with money and items conserved under any concurrency.
//
// # Data (the book's layout, shared with its Python code)
//
//	users:<id>      HASH  funds (an integer), name
//	inventory:<id>  SET   item ids
//	market:         ZSET  "<item>.<seller>" scored by price
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
// Every outcome is a sentinel error (see errors.go). All of them except ErrUnknownOutcome mean that
// nothing was written. Input is checked before any I/O: ids must be non-empty and free of "."
// (ErrInvalidID), prices between 1 and MaxPrice (ErrInvalidPrice). Money is an int64; a funds field
// that HINCRBY would refuse is ErrBadFunds. When the commit request (EXEC, or EVALSHA) was sent and
// its reply lost, the operation may or may not have happened: ErrUnknownOutcome, never a success
// and never a silent retry.
//
// Once ctx has ended, the error matches ctx.Err() (context.DeadlineExceeded or context.Canceled) as
// well as the outcome's sentinel, whether go-redis noticed the end itself or as a socket deadline
// ("i/o timeout"). ErrContention at the option's deadline matches context.DeadlineExceeded. Which
// errors mean "not sent" and which are the server's reply is decided by one rule for the whole
// toolkit (internal/noretry).
//
// Options follow go-redis's rule, as in every package of the module: 0 means the default, -1 means
// off (no deadline of the option's own: attempts go on until ctx ends), and any other negative value
// makes NewWatch return an *OptionError naming the field (matching ErrBadOption).
//
// # Clients
//
// Any client works, retrying or not: go-redis resends a command after a network error by default
// (MaxRetries 3), but never a lost EXEC reply, and Script marks its EVALSHA not to be resent
// (go-redis's per-command NoRetry), so a lost reply is ErrUnknownOutcome rather than a second run
// that finds the item sold and reports ErrNotListed for a purchase that happened. Both variants
// run on a single server, or a Sentinel-managed master.
//
// On Redis Cluster the keys must share a hash slot, for MULTI/EXEC as for a script, and the book's
// keys do not; with a *redis.ClusterClient or *redis.Ring the functions return ErrCrossSlot before
// any I/O. Put the market component on its own server (its config in config:redis:market can name
// any single server). Hash-tagging every key ({market}) would work but changes the book's layout,
// and puts the whole market in one slot, that is on one node, anyway.
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
