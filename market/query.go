package market

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// Read-only queries over the market's data, for operators and tools: they write nothing and work on
// any client (each command names one key, so a cluster client works too, in either layout). The
// package-level functions read the book's keys; the methods of Watch and Script read their layout.

var (
	// ErrNoUser: neither users:<id> nor inventory:<id> exists.
	ErrNoUser = errors.New("market: no such user")
	// ErrBadLimit: a count of listings below 1 or above MaxCheapest.
	ErrBadLimit = errors.New("market: listing count out of range")
	// ErrBadListing: a member of market: that is not "<item>.<seller>" with an integer price from 1
	// to MaxPrice, as ListItem writes it (the book's Python code or a hand-made write can store one).
	ErrBadListing = errors.New("market: malformed listing")
)

// MaxCheapest bounds Cheapest's count, so one call reads a bounded reply.
const MaxCheapest = 10000

// UserInfo is what the market holds about a user.
type UserInfo struct {
	ID        string
	Name      string   // users:<id> name; "" when absent
	Funds     int64    // users:<id> funds; 0 when absent, as PurchaseItem counts them
	Inventory []string // inventory:<id>, sorted
}

// Cheapest returns the n cheapest listings of market:, cheapest first (ties in member order, as
// ZRANGE gives them), each with Member, Item, Seller and Price. A member that is not
// "<item>.<seller>" with an integer price from 1 to MaxPrice fails the call with an error wrapping
// ErrBadListing that names it. n must be 1 to MaxCheapest (ErrBadLimit).
func Cheapest(ctx context.Context, c redis.Cmdable, n int) ([]Listing, error) {
	return cheapest(ctx, c, keys{}, n)
}

// Cheapest is the package's Cheapest on w's layout (Options.HashTag).
func (w *Watch) Cheapest(ctx context.Context, c redis.Cmdable, n int) ([]Listing, error) {
	return cheapest(ctx, c, w.keys, n)
}

// Cheapest is the package's Cheapest on s's layout (Options.HashTag).
func (s Script) Cheapest(ctx context.Context, c redis.Cmdable, n int) ([]Listing, error) {
	return cheapest(ctx, c, s.keys, n)
}

func cheapest(ctx context.Context, c redis.Cmdable, k keys, n int) (_ []Listing, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if n < 1 || n > MaxCheapest {
		return nil, fmt.Errorf("%w: %d (want 1 to %d)", ErrBadLimit, n, MaxCheapest)
	}
	zs, err := c.ZRangeWithScores(ctx, k.market(), 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("market: reading %s: %w", k.market(), err)
	}
	out := make([]Listing, 0, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string) // go-redis gives members as strings
		l, err := parseListing(m, z.Score)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// parseListing reads a member of market: and its score. Ids never hold ".", so the seller is what
// follows the last one.
func parseListing(m string, score float64) (Listing, error) {
	i := strings.LastIndexByte(m, '.')
	if i <= 0 || i == len(m)-1 {
		return Listing{}, fmt.Errorf("%w: member %q is not <item>.<seller>", ErrBadListing, m)
	}
	if score != math.Trunc(score) || score < 1 || score > MaxPrice {
		return Listing{}, fmt.Errorf("%w: member %q has price %v (want an integer, 1 to %d)", ErrBadListing, m, score, int64(MaxPrice))
	}
	return Listing{Item: m[:i], Seller: m[i+1:], Price: int64(score), Member: m}, nil
}

// User returns user id's name, funds and inventory (users:<id> and inventory:<id>, read in one
// pipeline). A user with neither key is ErrNoUser; funds that HINCRBY would refuse are ErrBadFunds
// (the rest of the result is filled in). The id must be one ListItem accepts (ErrInvalidID).
func User(ctx context.Context, c redis.Cmdable, id string) (UserInfo, error) {
	return user(ctx, c, keys{}, id)
}

// User is the package's User on w's layout (Options.HashTag).
func (w *Watch) User(ctx context.Context, c redis.Cmdable, id string) (UserInfo, error) {
	return user(ctx, c, w.keys, id)
}

// User is the package's User on s's layout (Options.HashTag).
func (s Script) User(ctx context.Context, c redis.Cmdable, id string) (UserInfo, error) {
	return user(ctx, c, s.keys, id)
}

func user(ctx context.Context, c redis.Cmdable, k keys, id string) (_ UserInfo, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if err := checkID("user", id); err != nil {
		return UserInfo{}, err
	}
	ku, ki := k.user(id), k.inventory(id)
	var fields *redis.SliceCmd
	var inv *redis.StringSliceCmd
	var exists *redis.IntCmd
	_, err = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		fields = p.HMGet(ctx, ku, "name", fieldFunds)
		inv = p.SMembers(ctx, ki)
		// One key per command, for a cluster in the book's layout: a SET exists when it has members.
		exists = p.Exists(ctx, ku)
		return nil
	})
	if err != nil {
		return UserInfo{}, fmt.Errorf("market: reading user %s: %w", id, err)
	}
	if exists.Val() == 0 && len(inv.Val()) == 0 {
		return UserInfo{}, fmt.Errorf("%w: %s (no %s, no %s)", ErrNoUser, id, ku, ki)
	}
	u := UserInfo{ID: id, Inventory: inv.Val()}
	slices.Sort(u.Inventory)
	vals := fields.Val()
	if s, ok := vals[0].(string); ok {
		u.Name = s
	}
	if s, ok := vals[1].(string); ok {
		f, ok := parseFunds(s)
		if !ok {
			return u, fmt.Errorf("%w: %s funds %q", ErrBadFunds, ku, s)
		}
		u.Funds = f
	}
	return u, nil
}
