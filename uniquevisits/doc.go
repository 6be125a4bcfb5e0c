// Package uniquevisits counts unique visitors per day: the book's count_visit and get_expected
// (Redis in Action 9.2.2, and 10.2.2 over sharded connections).
//
// A session id is a UUID, as the book's uuid4() strings are; it is read in any of the spellings of
// CanonicalSessionID and used in its canonical one (lower case, with dashes: the book's), so that
// every spelling of one UUID is one visitor on one server. A visitor id is the first 15 hex digits
// of that UUID (a 60-bit integer). CountVisit adds it to one of the day's sharded sets,
// unique:<date>:<n>, each sized for 512 ids so that it stays a compact intset
// (set-max-intset-entries), and, when the id is new, increments the day's count unique:<date>. The
// number of set shards comes from the day's expected size (Expected): yesterday's count times 1.5,
// rounded up to a power of two, or 1,000,000 when yesterday is unknown, stored once with SETNX at
// unique:<date>:expected so that every process agrees. With New (chapter 10) the sets are spread
// over 16 servers, components "unique:0" to "unique:15" of a conn.Registry, the server chosen by
// crc32("x"+sessionID) % 16 of the canonical spelling, while the counts stay on the unsharded
// component "unique". NewOnClient (chapter 9) keeps everything on one client. The plain functions
// (ParseSessionID, Expected, Add, CountVisit, Count) work on any clients the caller holds, a Redis
// Cluster client included (see Redis Cluster below).
//
// Key names and hashing are the book's, so the Go code and the book's Python code (under Python 3)
// can share one dataset: the same session id lands in the same set on the same server.
//
// CountVisit's SADD-then-INCR is not idempotent: if a client resent an INCR whose reply was lost, a
// visitor would count twice, and a resent SADD answers 0, so the INCR would be skipped. Both are
// marked never to be resent (go-redis's per-command NoRetry), so any go-redis client is safe: when
// the INCR fails CountVisit returns ErrUncounted rather than guessing, a lost reply is
// ErrUnknownOutcome (see Add), and Recount recomputes the exact count from the sets. Once ctx has
// ended, every error wraps ctx.Err(), even when go-redis saw only its socket's deadline ("i/o
// timeout").
//
// Recount tells the sharded servers apart by what they say (INFO server's run_id), so a user that
// runs it needs +info. A user without it still gets a count: Recount then tells servers apart by
// their components' configs, where two spellings of one address (localhost and 127.0.0.1) count
// that server twice.
//
// Options follow go-redis's rule, as in every package of the module: 0 means the default, -1 means
// off where the field's doc gives an off (CacheDays), and any other negative value makes New and
// NewOnClient return an *OptionError naming the field (matching ErrBadOption).
//
// For less memory at the price of an estimate, CountVisitHLL and UniqueHLL count with one
// HyperLogLog per day (PFADD, PFCOUNT): about 12 KB a day however many visitors, with a standard
// error of 0.81%.
//
// # Redis Cluster
//
// Everything runs unchanged on a *redis.ClusterClient, given directly or named by a component's
// config, with the book's keys (no hash tags): every write names one key, and so does every read but
// three, which are done per key instead. Recount sends one SCARD per set shard (go-redis splits the
// pipeline per node); UniqueRange reads each set shard with SSCAN, since SUNION cannot reach sets in
// several slots; UniqueRangeBitmap reads the days' bitmaps back (GETRANGE) where BITOP OR would be
// refused (CROSSSLOT); and UniqueRangeHLL copies the days' HyperLogLogs into temporary keys of one hash
// tag, counted and deleted in one MULTI/EXEC, where PFCOUNT of several days would be refused.
//
// # Durable mode
//
// With Options.Durable (or BitmapOptions.Durable) Replicas > 0, a visit is acknowledged only once
// that many replicas of every server it wrote have its writes: each write goes on a connection to the
// master of its key, and a WAIT follows on that connection (internal/durable's package doc says why
// it must be the same one, and what WAIT does not promise: the replicas have the write in memory, not
// on disk, and a failover may still promote a replica that lacks it). CountVisit waits after its SADD
// and INCR, on each server written (one WAIT, in parallel, when the sets and the count are on two);
// CountVisits ends each server's last pipeline with its WAIT (per node on a Redis Cluster), and the
// INCRBY's pipeline with another; CountVisitHLL and Bitmap.CountVisit wait after their PFADD or
// SETBIT. A visit that wrote nothing (a known id, a bit already set) waits for nothing. The cost is a
// WAIT round trip on each server written, as long as the slowest of its Replicas replicas takes (none
// more for CountVisits, where the WAIT rides in the pipeline). A visit applied but not confirmed in
// time returns its Visit, filled in as on success, and ErrNotDurable (one *DurableError per server
// not confirmed); it is not ErrUnknownOutcome, and calling again will not count it twice. In
// CountVisits only the new visits of a server that did not confirm get it. The clients must be
// *redis.Client (a single server, or go-redis's FailoverClient for Sentinel) or
// *redis.ClusterClient, else ErrNoNode before any write. While a slot moves, a durable write refused
// with MOVED (the client's slot map is behind) goes again to the slot's new master, and one refused
// with ASK (its key moved, the slot still migrating) to the importing master after ASKING, each
// confirmed there: the same visits count as in the default mode. The expected size's SETNX is not waited
// for: lost in a failover, it is computed again from yesterday's count. The package-level functions
// (CountVisit, CountVisits, Add, CountVisitHLL) take no options and stay the book's: no WAIT.
//
// # Fixed from the book
//
//   - A stored count of "0" made get_expected's log(0) fail: a zero count now counts as unknown.
//   - Its EXPECTED cache grew by one entry a day forever: it is now bounded to the days in use.
//   - A yesterday with fewer than 86 visitors gave an expected size under 256, and shard_key
//     divided by zero: shard.Key now uses one shard.
//   - A malformed session id was counted as whatever int(..., 16) made of it, or raised
//     ValueError: it is now ErrBadSessionID.
//   - The server was chosen from the session id as spelled while the set member came from its
//     digits, so one UUID spelled four ways (upper case, no dashes, ...) counted as up to four
//     visitors on four servers.
package uniquevisits
