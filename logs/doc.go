// Package logs processes a directory of log files line by line, exactly once, resuming after a crash
// from progress kept in Redis: the book's process_logs (Redis in Action, section 4.1.1, listing 4.2).
//
// # Book semantics
//
// Files are processed in sorted name order. The progress is two STRING keys, the book's
// progress:file (a file name inside the directory) and progress:position (the byte offset just
// after the last committed line, in decimal), so the Go and Python versions can share them. A
// callback queues its writes for each line on a MULTI/EXEC pipeline; every BatchLines lines (default
// 1000) and at the end of each file, those writes and the progress update are committed in one
// transaction. Whatever moment the process dies at, the data and the progress move together: a run
// started again resumes at the first uncommitted line, and no line is lost or counted twice.
//
// ProcessLogs returns (Result, error) so a registry wrapper can inject its client by component, as
// the book's @redis_connection decorator does:
//
//	process := conn.Wrap3(reg, "logs", logs.ProcessLogs)
//	res, err := process(ctx, "/var/log/app", countStatus, nil)
//
// It takes a redis.UniversalClient because it guards each transaction with WATCH on the progress
// keys and checks that the progress is still the one it committed last, so exactly-once does not
// rest on how the client retries. go-redis v9.23 resends a MULTI/EXEC only when sending it failed,
// not after a lost reply (a lost reply is an error: the next run reads what the server committed),
// but a resent EXEC that had reached the server would apply a batch twice; with the guard it fails
// instead, the WATCH'd connection being gone. The guard also turns a second processor started by
// mistake with the same prefix into ErrConcurrent instead of double counting.
//
// # Redis Cluster
//
// A *redis.Ring is refused (ErrBadInput) before any I/O: its shards share no transaction, and
// Ring.Watch would run every queued command on the progress keys' shard, whatever its key.
//
// Through a *redis.ClusterClient the progress keys and the callback's keys must share a slot, since
// they share a transaction: use a hash-tag prefix such as "{proc1}progress:" and the same tag in the
// callback's keys ("{proc1}status:"). Progress keys in two slots (the book's untagged "progress:")
// are ErrCrossSlot before any I/O, in ProcessLogs and ReadProgress; a callback key in another slot
// is ErrCrossSlot when EXEC refuses the first batch, nothing of it committed. While the slot moves
// to another master (a live reshard, key by key), a run stops with ErrSlotMoving at the first of
// its progress read, WATCH or EXEC that the move refuses (TRYAGAIN for keys it has split, ASK for
// keys it has moved): nothing of the batch committed, and a run started again resumes at its first
// line. WATCH goes to the slot's master itself, never through ClusterClient.Watch (which follows
// an ASK without ASKING, and returns nil once its redirects run out): a MOVED is followed, an ASK
// waited out for about a quarter of a second before ErrSlotMoving. A command's key is the one at its first key position (COMMAND INFO, as go-redis routes
// it), asked of the server only when EXEC refused a batch with a redirect; an ACL user without
// COMMAND gets the refusal and that lookup's error instead, neither of the two.
//
// # Durable mode
//
// By default a batch counts once the master has committed it, as in the book; a failover to a
// replica that had not received it loses the batch and its progress together (the run resumes
// from the older progress, still exactly once on the new master). Options.Durable.Replicas > 0
// follows each transaction with WAIT on the same connection (the Tx of WATCH; on a cluster the
// master of the progress keys' slot) and counts the batch only once that many replicas have it.
// It costs one WAIT round trip per batch (BatchLines lines), as long as the slowest of those
// replicas takes. A batch committed but not confirmed within Durable.Timeout stops the run with
// ErrNotDurable: Result.File and Position are what the master holds, Result.Confirmed the last
// confirmed progress, and OnCommit was not called for it. WAIT narrows what a failover can lose;
// it does not make a batch survive every failover.
//
// What WAIT does not promise, the cases in which Redis can still lose a confirmed write: the
// replicas have it in memory, not on disk (Redis 7.2's WAITAOF is not in 7.0), so a replica
// restarted without persistence forgets it; with Replicas below the number of replicas, Sentinel
// may promote one that lacks it (it compares replication offsets from INFO replies that can be a
// second old); a manual failover (CLUSTER FAILOVER TAKEOVER, REPLICAOF NO ONE) can pick any
// replica; and other clients may read the write before it is confirmed. The fault test
// internal/faulttest/failover measures it: 20 Sentinel failovers by SIGKILL or SIGSTOP, Replicas 2
// of 2, lost no confirmed write, and none of those cases arose there (no replica was restarted and
// every replica was waited for), while ProcessLogs lost no batch in either mode (what the book's mode
// lost there were the market's writes).
//
// # Contract for files that change
//
//   - Files whose names sort before the saved file are finished: lines appended to them later are
//     never read. New files are picked up only if their names sort after the saved file, so name
//     files so that new ones sort last (fixed-width timestamps: access-20240131-1200.log).
//   - The saved (last processed) file is read from the saved position on, so lines appended to it
//     are processed by the next run, as `tail -f` would: writers must append whole lines.
//   - A final line without a newline is processed as a line (as in the book), its bytes counted in
//     the position. If a writer later extends that line, the next run stops with ErrFileChanged
//     rather than process half a line; Options.HoldPartial leaves such a line of the last file for a
//     later run instead.
//   - A saved file that is gone is ErrFileMissing (progress unchanged), or, with
//     Options.SkipMissing, processing continues with the next name after it and the missing rest is
//     lost. A saved file shorter than the saved position, or whose saved position is not at a line
//     start, is ErrFileChanged (truncated, rotated in place or rewritten).
//   - Directories, symbolic links to directories and names starting with "." (temporary files) are
//     skipped. A symbolic link to a regular file is read as that file. Any other entry (a FIFO, a
//     socket, a device, a dangling link) stops the run with a *FileError wrapping ErrUnreadable that
//     names it and says what it is, when its turn comes in name order: files before it are processed
//     and committed, and it is never opened, so a FIFO cannot block the run. The directory is
//     listed once per call: files created during a run are left for the next one. The directory
//     itself may be a link to one; anything else is ErrUnreadable, without blocking.
//
// # Errors and limits
//
// Errors about a file are *FileError values naming the file and byte offset, wrapping a sentinel
// (ErrUnreadable, ErrLineTooLong, ErrCallback, ...). Once ctx has ended, the error also matches
// ctx.Err() (context.DeadlineExceeded or context.Canceled), even when go-redis reported the
// deadline it enforced on the socket as an i/o timeout. On any error the uncommitted batch is
// discarded and the saved progress is that of the last commit, except ErrCommandFailed: a command
// the callback queued failed inside EXEC, and Redis committed the rest, progress included; and
// ErrNotDurable: the batch was committed on the master, its replicas did not confirm it. Files
// are read through a 64 KiB buffer and lines are bounded by Options.MaxLineBytes (default 1 MiB),
// so memory stays bounded whatever the size of a file. A batch is committed after BatchLines lines
// or once its lines reach Options.MaxBatchBytes (default 8 MiB), whichever comes first, so the
// pipeline holds the commands of at most about MaxBatchBytes + MaxLineBytes of lines.
//
// Options follow go-redis's rule, as in every package of the module: 0 means the default, -1 means
// off where the field's doc gives an off (BatchLines), and any other negative value is an
// *OptionError naming the field (matching ErrBadOption and ErrBadInput), returned before any I/O.
//
// # Fixed from the book
//
//   - Resuming compared each file name with the saved one even when nothing was saved yet (None in
//     Python; a TypeError in Python 3): here missing progress means "start with the first file", and
//     half-missing or non-numeric progress is ErrBadProgress.
//   - The offset arithmetic: the saved position comes back from Redis as a string, and several
//     printings added line lengths to it directly; the listing's indentation also saved progress
//     after every line, not every 1000 lines and at each file's end. Here the position is an
//     integer byte offset, the resumed file is seeked to it and checked, and commits happen every
//     BatchLines lines and at each file's end.
//   - The book opened every file and never bounded a line; here a line longer than MaxLineBytes is
//     ErrLineTooLong, naming the file and the line's offset.
package logs
