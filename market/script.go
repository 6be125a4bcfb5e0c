package market

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/noretry"
)

// Script is the market on Lua scripts: each operation is one EVALSHA that reads, checks and writes
// while no other command runs, so it cannot lose to contention and never retries. Same keys, same
// outcomes as Watch (except ErrContention); the two can run against the same data at once. The zero
// value is ready to use: the book's keys, durable mode off. Every key a script touches comes in
// KEYS, so the layout (Options.HashTag) applies to the scripts too.
//
// Every check comes before the first write, and the only write that can still fail (the seller's
// HINCRBY, on overflow) comes first and is caught, so a script that returns an error wrote nothing.
type Script struct {
	keys keys
	dur  Durability
}

// NewScript returns a script market with opt's HashTag and Durable (opt may be nil for the
// defaults; the timeouts are checked but only Watch uses them). An option the rule refuses is an
// *OptionError (see ErrBadOption), a bad HashTag a *HashTagError.
func NewScript(opt *Options) (*Script, error) {
	o, k, err := newOptions(opt)
	if err != nil {
		return nil, err
	}
	return &Script{keys: k, dur: o.Durable}, nil
}

// luaInt64 mirrors parseFunds: an integer as HINCRBY reads one (string2ll).
const luaInt64 = `
local function int64(s)
  if s == '0' then return true end
  local neg, d = string.match(s, '^(%-?)([1-9]%d*)$')
  if not d then return false end
  if #d ~= 19 then return #d < 19 end
  if neg == '-' then return d <= '9223372036854775808' end
  return d <= '9223372036854775807'
end
`

// Reply codes shared by the scripts.
const (
	codeOK = iota
	codeNotInInventory
	codeAlreadyListed
	codeNotListed
	codePriceChanged
	codeInsufficientFunds
	codeAlreadyOwned
	codeBadFunds
)

// listScript lists an item.
// KEYS[1] inventory:<seller> (SET), KEYS[2] market: (ZSET)
// ARGV[1] item id, ARGV[2] "<item>.<seller>", ARGV[3] price
// Returns {0}; {1} not in inventory; {2, price} already listed.
var listScript = newLuaScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return {1} end
local listed = redis.call('ZSCORE', KEYS[2], ARGV[2])
if listed then return {2, listed} end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('SREM', KEYS[1], ARGV[1])
return {0}
`)

// purchaseScript buys a listed item.
// KEYS[1] market: (ZSET), KEYS[2] users:<buyer> (HASH), KEYS[3] users:<seller> (HASH),
// KEYS[4] inventory:<buyer> (SET)
// ARGV[1] "<item>.<seller>", ARGV[2] price, ARGV[3] item id
// Returns {0}; {3} not listed; {4, price} listed at another price; {5, funds} insufficient funds;
// {6} buyer owns the item id; {7, key, funds} funds not an integer, or the seller's would overflow.
var purchaseScript = newLuaScript(luaInt64 + `
local listed = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not listed then return {3} end
if tonumber(listed) ~= tonumber(ARGV[2]) then return {4, listed} end
local funds = redis.call('HGET', KEYS[2], 'funds') or '0'
if not int64(funds) then return {7, KEYS[2], funds} end
if tonumber(funds) < tonumber(ARGV[2]) then return {5, funds} end
local sfunds = redis.call('HGET', KEYS[3], 'funds') or '0'
if not int64(sfunds) then return {7, KEYS[3], sfunds} end
if redis.call('SISMEMBER', KEYS[4], ARGV[3]) == 1 then return {6} end
local r = redis.pcall('HINCRBY', KEYS[3], 'funds', ARGV[2])
if type(r) == 'table' and r.err then
  if string.find(r.err, 'overflow') then return {7, KEYS[3], sfunds} end
  return r
end
redis.call('HINCRBY', KEYS[2], 'funds', '-' .. ARGV[2])
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('ZREM', KEYS[1], ARGV[1])
return {0}
`)

// ListItem is Watch.ListItem as one script: same outcomes, never ErrContention.
func (s Script) ListItem(ctx context.Context, c redis.UniversalClient, item, seller string, price int64) (Listing, error) {
	l, err := s.listItem(ctx, c, item, seller, price)
	return l, noretry.CtxErr(ctx, err)
}

func (s Script) listItem(ctx context.Context, c redis.UniversalClient, item, seller string, price int64) (Listing, error) {
	l := Listing{Item: item, Seller: seller, Price: price, Member: member(item, seller)}
	if err := checkList(c, s.keys, item, seller, price); err != nil {
		return l, err
	}
	inv := s.keys.inventory(seller)
	reply, err := s.run(ctx, c, "list", listScript, []string{inv, s.keys.market()}, item, l.Member, price)
	if err != nil {
		return l, err
	}
	switch reply.code {
	case codeOK:
		return l, nil
	case codeNotInInventory:
		return l, fmt.Errorf("%w: %s not in %s", ErrNotInInventory, item, inv)
	case codeAlreadyListed:
		return l, fmt.Errorf("%w: %s at %s", ErrAlreadyListed, l.Member, reply.arg(0))
	}
	return l, reply.unexpected("list")
}

// PurchaseItem is Watch.PurchaseItem as one script: same outcomes, never ErrContention.
func (s Script) PurchaseItem(ctx context.Context, c redis.UniversalClient, buyer, item, seller string, price int64) (Purchase, error) {
	pu, err := s.purchaseItem(ctx, c, buyer, item, seller, price)
	return pu, noretry.CtxErr(ctx, err)
}

func (s Script) purchaseItem(ctx context.Context, c redis.UniversalClient, buyer, item, seller string, price int64) (Purchase, error) {
	pu := Purchase{Buyer: buyer, Item: item, Seller: seller, Price: price}
	if err := checkPurchase(c, s.keys, buyer, item, seller, price); err != nil {
		return pu, err
	}
	mem, inv := member(item, seller), s.keys.inventory(buyer)
	keys := []string{s.keys.market(), s.keys.user(buyer), s.keys.user(seller), inv}
	reply, err := s.run(ctx, c, "purchase", purchaseScript, keys, mem, price, item)
	if err != nil {
		return pu, err
	}
	switch reply.code {
	case codeOK:
		return pu, nil
	case codeNotListed:
		return pu, fmt.Errorf("%w: %s", ErrNotListed, mem)
	case codePriceChanged:
		return pu, fmt.Errorf("%w: %s listed at %s, not %d", ErrPriceChanged, mem, reply.arg(0), price)
	case codeInsufficientFunds:
		return pu, fmt.Errorf("%w: %s has %s, price %d", ErrInsufficientFunds, buyer, reply.arg(0), price)
	case codeAlreadyOwned:
		return pu, fmt.Errorf("%w: %s already in %s", ErrAlreadyOwned, item, inv)
	case codeBadFunds:
		return pu, fmt.Errorf("%w: %s funds %q (or they would overflow)", ErrBadFunds, reply.arg(0), reply.arg(1))
	}
	return pu, reply.unexpected("purchase")
}

type scriptReply struct {
	code int64
	args []any
}

func (r scriptReply) arg(i int) string {
	if i < len(r.args) {
		return fmt.Sprint(r.args[i])
	}
	return ""
}

func (r scriptReply) unexpected(op string) error {
	return fmt.Errorf("market: %s: unexpected script reply %d %v", op, r.code, r.args)
}

// luaScript is a script's source and SHA1; runScript sends it itself rather than through
// redis.Script, to mark the call as not to be resent.
type luaScript struct{ src, hash string }

func newLuaScript(src string) luaScript {
	return luaScript{src: src, hash: redis.NewScript(src).Hash()}
}

// run runs ls once on c. In the durable mode it runs on the master of the keys' slot (Node), on one
// connection, with its WAIT in the same pipeline: one round trip more only when the first WAIT
// falls short.
func (s Script) run(ctx context.Context, c redis.UniversalClient, op string, ls luaScript, keys []string, args ...any) (scriptReply, error) {
	if !s.dur.On() {
		return runScript(ctx, op, ls, keys, args, func(a []any) *redis.Cmd { return noretry.Do(ctx, c, a...) })
	}
	var reply scriptReply
	err := onNode(ctx, c, op, keys[0], func(n *redis.Client) error {
		conn := durable.Conn(ctx, n)
		defer conn.Close()
		var wt *durable.Waiter
		var first *redis.Cmd
		var err error
		reply, err = runScript(ctx, op, ls, keys, args, func(a []any) *redis.Cmd {
			// Timeout counts from the send that runs the script: after a NOSCRIPT, from the EVAL
			// (the WAIT that went with the EVALSHA covered nothing of this write).
			wt = s.dur.Begin()
			var cmd *redis.Cmd
			// The pipeline's error is each command's: runScript reads the script's.
			_, _ = conn.Pipelined(ctx, func(p redis.Pipeliner) error {
				cmd = noretry.Do(ctx, p, a...)
				first = wt.Queue(ctx, p)
				return nil
			})
			return cmd
		})
		if err != nil || reply.code != codeOK { // nothing written, or an unknown outcome
			return err
		}
		return confirm(ctx, op, wt, conn, first)
	})
	return reply, err
}

// runScript runs ls once through send (EVALSHA, then EVAL if the server lacks it); send never lets
// the client resend it. A Redis error means the script wrote nothing (see Script); a lost reply is
// ErrUnknownOutcome.
func runScript(ctx context.Context, op string, ls luaScript, keys []string, args []any, send func([]any) *redis.Cmd) (scriptReply, error) {
	if err := ctx.Err(); err != nil {
		return scriptReply{}, fmt.Errorf("market: %s: %w", op, err)
	}
	call := func(name, body string) *redis.Cmd {
		a := make([]any, 0, 3+len(keys)+len(args))
		a = append(a, name, body, len(keys))
		for _, k := range keys {
			a = append(a, k)
		}
		// Never resent: with MaxRetries (default 3) go-redis would resend a call whose reply was
		// lost, run the script a second time, and report ErrNotListed for the purchase the first
		// run made. It still resends a call that never reached the network.
		return send(append(a, args...))
	}
	cmd := call("evalsha", ls.hash)
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") { // the script did not run: EVAL is its first run
		cmd = call("eval", ls.src)
	}
	v, err := cmd.Slice()
	switch {
	case err == nil:
	case noretry.IsErrorReply(err):
		return scriptReply{}, fmt.Errorf("market: %s: script refused, nothing written: %w", op, err)
	case noretry.IsReply(err): // nil: the script ran to its end and answered nothing, which none of them does
		return scriptReply{}, fmt.Errorf("market: %s: empty script reply: %w", op, err)
	default:
		return scriptReply{}, commitError(op, err)
	}
	if len(v) == 0 {
		return scriptReply{}, fmt.Errorf("market: %s: empty script reply", op)
	}
	code, ok := v[0].(int64)
	if !ok {
		return scriptReply{}, fmt.Errorf("market: %s: script reply code %v", op, v[0])
	}
	return scriptReply{code: code, args: v[1:]}, nil
}
