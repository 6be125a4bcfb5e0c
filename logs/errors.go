package logs

import (
	"errors"
	"fmt"

	"github.com/ria-go/ria/internal/durable"
	"github.com/ria-go/ria/internal/option"
)

// OptionError is the error for a refused Options field: it names the Options type, the field and
// the value. It matches ErrBadOption, and, for logs.Options, ErrBadInput.
type OptionError = option.Error

// DurableError is a batch not confirmed durable: Replicas confirmed (-1: unknown) of Wanted, Node (the
// master's address), and Err, the transport or ctx error that stopped the wait, if any. It matches
// ErrNotDurable.
type DurableError = durable.Error

// Durability is Options.Durable: how many replicas must confirm each batch (see the package doc).
type Durability = durable.Options

var (
	// ErrBadInput: a nil client or callback, an empty directory name, an option the rule refuses
	// (then the error matches ErrBadOption too), a Prefix without a hash tag on a Redis Cluster (with
	// ErrCrossSlot), or a *redis.Ring: its shards share no transaction, so a batch and the progress
	// cannot commit together (Ring.Watch runs every queued command on the progress keys' shard,
	// whatever their keys). Give the client of one server instead.
	ErrBadInput = errors.New("logs: bad input")

	// ErrBadOption: an Options field holds a value the option rule refuses. The rule is the same in
	// every package of the module (go-redis's): 0 means the default, -1 means off where the field's
	// doc says so, and any other negative value is an error. The error is an *OptionError naming the
	// field; ErrBadOption is one value shared by all the packages (conn.ErrBadOption is the same).
	ErrBadOption = option.ErrBadOption

	// ErrUnreadable: the directory cannot be listed, or a file cannot be opened or read, or is not a
	// regular file (a FIFO, socket, device or dangling link: see the package doc).
	ErrUnreadable = errors.New("logs: cannot read")

	// ErrFileMissing: the saved progress names a file that is no longer in the directory
	// (see Options.SkipMissing).
	ErrFileMissing = errors.New("logs: file in saved progress no longer exists")

	// ErrFileChanged: the saved position does not fit the file any more: it is past the end (the file
	// was truncated or replaced) or not at the start of a line (the file was rewritten, or a last line
	// processed without its newline was later extended; see Options.HoldPartial).
	ErrFileChanged = errors.New("logs: file changed under saved progress")

	// ErrBadProgress: the progress keys hold something this package did not write (a file without
	// a position, a position that is not a non-negative integer).
	ErrBadProgress = errors.New("logs: bad saved progress")

	// ErrLineTooLong: a line is longer than Options.MaxLineBytes.
	ErrLineTooLong = errors.New("logs: line too long")

	// ErrCallback: the callback returned an error; its batch was discarded.
	ErrCallback = errors.New("logs: callback failed")

	// ErrCommandFailed: a command the callback queued failed inside EXEC (say, WRONGTYPE). Redis does
	// not roll a transaction back, so that batch, progress included, was committed.
	ErrCommandFailed = errors.New("logs: a queued command failed (batch committed)")

	// ErrRefused: the server refused a command of the batch as it was queued (a wrong number of
	// arguments, an unknown command, READONLY on a replica, NOREPLICAS, OOM), so EXEC discarded the
	// whole batch (EXECABORT): nothing of it committed and the progress is as it was. The error is a
	// *FileError naming the batch's start and wraps the refused command's own reply.
	ErrRefused = errors.New("logs: the server refused the batch (nothing committed)")

	// ErrCrossSlot: on a Redis Cluster, the progress keys, or the callback's keys and the progress
	// keys, are in more than one hash slot, so they cannot share a transaction. For the progress keys
	// it is found before any I/O; for the callback's keys, when EXEC refuses the batch that holds
	// them (CROSSSLOT, or a redirect of a key whose slot is not the progress keys'): nothing of it is
	// committed and the progress is as it was. Put the same hash tag in Prefix and in the callback's
	// keys ("{proc1}progress:", "{proc1}status:").
	ErrCrossSlot = errors.New("logs: keys in more than one Redis Cluster hash slot")

	// ErrSlotMoving: on a Redis Cluster, the progress keys' slot is moving to another master (a live
	// reshard): reading the progress, WATCH, or a command of the batch got a MOVED, ASK or TRYAGAIN
	// reply about a key of that slot. Nothing of the batch was applied and the progress is as it
	// was, so running ProcessLogs again resumes there once the move is done. From ProcessLogs the
	// error is a *FileError naming the batch's start, except when the first progress read was
	// refused; it wraps the reply.
	ErrSlotMoving = errors.New("logs: not committed: the Redis Cluster hash slot of the progress keys is moving")

	// ErrNotDurable: in durable mode (Options.Durable), a batch was committed on the master but too
	// few replicas confirmed it in time. The error is a *FileError naming the batch's end, wrapping a
	// *DurableError (replicas confirmed, wanted); Result.Confirmed is the last confirmed progress.
	// The batch may survive a failover or not; either way data and progress move together, so a run
	// started again on whatever the master then holds stays exactly once.
	ErrNotDurable = durable.ErrNotDurable

	// ErrConcurrent: the saved progress changed under this processor: another processor with the same
	// prefix is running. Nothing was committed by the failing batch.
	ErrConcurrent = errors.New("logs: progress changed by another processor")
)

// FileError names the file and the byte offset an error happened at. Err wraps one of the
// sentinel errors above (and the cause, when there is one), so errors.Is works through it.
type FileError struct {
	File   string // file name inside the directory
	Offset int64  // byte offset: the start of the offending line, or the saved position
	Err    error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("%v (file %q at byte %d)", e.Err, e.File, e.Offset)
}

func (e *FileError) Unwrap() error { return e.Err }

func fileErr(file string, off int64, kind error, cause error) error {
	if cause == nil {
		return &FileError{File: file, Offset: off, Err: kind}
	}
	return &FileError{File: file, Offset: off, Err: fmt.Errorf("%w: %w", kind, cause)}
}
