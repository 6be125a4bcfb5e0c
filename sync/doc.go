// Package sync verifies replication and persistence, and helps replace a failed master: the book's
// wait_for_sync and the operations of Redis in Action sections 4.1 to 4.3.
//
// The package is named sync for what it checks, as the book's wait_for_sync is: that replicas and
// disks are in sync with the master. The name clashes with the standard library's sync, so a file
// that needs both imports this one under another name; the API is kept small to make that cheap:
//
//	import riasync "github.com/ria-go/ria/sync"
//
//	res, err := riasync.WaitForSync(ctx, master, replica, nil)
//
// # What it offers
//
//   - WaitForSync (listing 4.3): everything written to the master has reached the replica and, when
//     the replica has an append-only file, its disk. The result says when it could not be on disk
//     (AOF off, appendfsync no).
//   - WaitReplicas: the same question asked with WAIT numreplicas timeout; acknowledged means in the
//     replicas' memory.
//   - BGSave (section 4.1.1): start a snapshot and wait until it is written.
//   - EnableAOF (section 4.1.2): CONFIG SET appendonly yes, and wait for the rewrite that creates the file.
//   - Promote and ReplicaOf (section 4.3.2, listing 4.4): REPLICAOF NO ONE on a replica, and point a
//     server at a new master, waiting until it has synced. Replication reads INFO replication.
//
// Every function takes ctx first, bounds itself by Options.Timeout (default 10 s) as well, and
// returns (T, error) so conn.Wrap1 and conn.WrapPair can inject clients by component. Once ctx or
// Timeout has ended, the error wraps the context's error (context.DeadlineExceeded or Canceled) and
// the sentinel the function documents for a deadline, even where go-redis saw only its socket's
// deadline ("i/o timeout"):
//
//	wait := conn.WrapPair(reg, "master", "replica", riasync.WaitForSync)
//	res, err := wait(ctx, nil)
//
// Options follow go-redis's rule, as in every package of the module: 0 means the default, -1 means
// off where the field's doc gives an off (Timeout, MaxAge, FsyncWait), and any other negative value
// is an *OptionError naming the field (matching ErrBadOption and ErrBadInput), returned before any
// I/O.
//
// The token ZSET is the book's sync:wait (token -> unix time in seconds), so Go and Python callers
// can share it.
//
// # Fixed from the book
//
//   - while not sconn.info()['master_link_status'] != 'up' spins while the link is up and goes on
//     when it is down; here WaitForSync waits for master_link_status:up, and a server that is not a
//     replica at all is ErrNotReplica at once.
//   - aof_pending_bio_fsync appears in INFO only when AOF is on: the book's lookup fails (KeyError)
//     on a replica without AOF. Here AOF off is reported in the result (Durable false), not hidden.
//   - aof_pending_bio_fsync:0 alone does not mean the write is on disk: with appendfsync everysec the
//     fsync that covers it may not have been queued yet. WaitForSync waits FsyncWait (1.2 s) after
//     the token reached the replica's AOF, then for no pending fsync; with appendfsync always the
//     write is fsynced before the replica answers, so it returns at once. While an AOF rewrite runs
//     (the first one, after CONFIG SET appendonly yes, makes the AOF usable) it keeps waiting.
//   - After its 1.01 s deadline the book's function returned as if all was well. Here a deadline
//     (Timeout or ctx) is always an error: ErrNotSynced, or ErrNotDurable when the token arrived but
//     the disk was not confirmed, wrapping context.DeadlineExceeded.
//   - The token is removed, with tokens older than MaxAge (the book's 900 s), even when the wait
//     fails.
//
// WAIT covers the writes seen by the connection it runs on; with a connection pool that may be a
// connection last used before the caller's write. WaitReplicas therefore writes its token and runs
// WAIT on one pipelined connection.
package sync
