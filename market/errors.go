package market

import (
	"errors"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/option"
)

// Outcomes other than success. Each is returned wrapped with details (ids, prices); test with errors.Is.
// Every one of them except ErrUnknownOutcome means nothing was written. Once ctx has ended, every error
// also matches ctx.Err(), whatever go-redis reported (a deadline it enforced reads "i/o timeout").
var (
	// ErrInvalidID: an id is empty or contains "." (it would corrupt the "<item>.<seller>" member).
	ErrInvalidID = errors.New("market: invalid id")

	// ErrInvalidPrice: a price is not positive, or above MaxPrice (ZSET scores are doubles).
	ErrInvalidPrice = errors.New("market: invalid price")

	// ErrNotInInventory: the seller does not own the item (book: list_item returns None).
	ErrNotInInventory = errors.New("market: item not in inventory")

	// ErrAlreadyListed: "<item>.<seller>" is already in market:. Listing it again would overwrite the
	// listing's price and lose an item; the book does not check.
	ErrAlreadyListed = errors.New("market: item already listed")

	// ErrNotListed: "<item>.<seller>" is not in market: (sold, or never listed).
	ErrNotListed = errors.New("market: item not listed")

	// ErrPriceChanged: the listing's price is not the one the buyer agreed to.
	ErrPriceChanged = errors.New("market: price changed")

	// ErrInsufficientFunds: the buyer's funds are below the price. Missing funds count as 0.
	ErrInsufficientFunds = errors.New("market: insufficient funds")

	// ErrAlreadyOwned: the buyer already owns an item with this id; inventories are SETs, so the
	// purchase would lose an item. The book does not check.
	ErrAlreadyOwned = errors.New("market: buyer already owns an item with this id")

	// ErrBadFunds: a user's stored funds are not an integer as Redis's HINCRBY reads one, or the
	// seller's would overflow int64. MULTI/EXEC does not roll back, so the book's code would
	// apply the rest of the purchase.
	ErrBadFunds = errors.New("market: stored funds are not a valid integer")

	// ErrContention: the optimistic lock was lost on every attempt until the deadline (WATCH only;
	// book: returns False). The result's Retries says how many times. It also matches the deadline's
	// error: context.DeadlineExceeded for the option's, ctx.Err() for ctx's.
	ErrContention = errors.New("market: gave up under contention")

	// ErrUnknownOutcome: the request that commits (EXEC, or EVALSHA for the script variant) was
	// sent but its reply was lost (network error, timeout, cancelled context): the operation may or
	// may not have happened. It wraps the cause. Never retried blindly: check the data.
	ErrUnknownOutcome = errors.New("market: outcome unknown")

	// ErrCrossSlot: the client is a Redis Cluster or Ring client and the layout is the book's. Its
	// keys (market:, users:<id>, inventory:<id>) do not share a hash slot, so neither MULTI/EXEC nor
	// a script can span them there. Set Options.HashTag, or point the market component at one
	// server (or a Sentinel-managed master).
	ErrCrossSlot = errors.New("market: the market's keys span cluster slots or ring shards")

	// ErrNotDurable: in the durable mode (Options.Durable), the write was applied on the master
	// but fewer than Durable.Replicas replicas confirmed it in time (or the connection broke while
	// waiting). The result is filled in as on success; the write may survive a failover or not.
	// The error is a *DurableError giving the counts. Never ErrUnknownOutcome: the write ran.
	ErrNotDurable = durable.ErrNotDurable

	// ErrNoNode: the durable mode needs a client whose write and WAIT can share a connection: a
	// *redis.Client (single server, Sentinel) or *redis.ClusterClient, not a *redis.Ring.
	// Returned before any I/O; nothing was written.
	ErrNoNode = durable.ErrNoNode

	// ErrBadOption: an Options field holds a value the option rule refuses. The rule is the same in
	// every package of the module (go-redis's): 0 means the default, -1 means off where the field's
	// doc says so, and any other negative value is an error. The error is an *OptionError naming the
	// field; ErrBadOption is one value shared by all the packages (conn.ErrBadOption is the same).
	ErrBadOption = option.ErrBadOption
)

// OptionError is the error NewWatch and NewScript return for a refused Options field: it names the Options type,
// the field and the value, and matches ErrBadOption.
type OptionError = option.Error

// DurableError is a write not confirmed durable: Replicas confirmed (-1: unknown) of Wanted, Node (the
// master's address), and Err, the transport or ctx error that stopped the wait, if any. It matches
// ErrNotDurable.
type DurableError = durable.Error
