package sync

import (
	"errors"

	"github.com/ria-go/ria/internal/option"
)

// OptionError is the error for a refused Options field: it names the Options type, the field and
// the value. It matches ErrBadOption, and, for sync.Options, ErrBadInput.
type OptionError = option.Error

var (
	// ErrBadInput: a nil client, a malformed address, or an option the rule refuses (then the error
	// matches ErrBadOption too).
	ErrBadInput = errors.New("sync: bad input")

	// ErrBadOption: an Options field holds a value the option rule refuses. The rule is the same in
	// every package of the module (go-redis's): 0 means the default, -1 means off where the field's
	// doc says so, and any other negative value is an error. The error is an *OptionError naming the
	// field; ErrBadOption is one value shared by all the packages (conn.ErrBadOption is the same).
	ErrBadOption = option.ErrBadOption

	// ErrNotReplica: the server given as a replica reports role:master.
	ErrNotReplica = errors.New("sync: server is not a replica")

	// ErrNotSynced: the deadline passed (or ctx was cancelled) before the token was written to the
	// master, the replica's link was up, the replica had the token, or it followed the new master.
	// It wraps the cause and the context's error.
	ErrNotSynced = errors.New("sync: replica did not sync before the deadline")

	// ErrNotDurable: the replica had the token but did not confirm it on disk: its AOF had not
	// before the deadline (it wraps the context's error), or its persistence state could not be
	// read (it wraps that error).
	ErrNotDurable = errors.New("sync: replica did not confirm the write on disk before the deadline")

	// ErrTooFewReplicas: WAIT returned fewer acknowledgements than asked for.
	ErrTooFewReplicas = errors.New("sync: too few replicas acknowledged")

	// ErrSaveFailed: the background save ended with rdb_last_bgsave_status:err, or BGSave did not
	// finish before the deadline (then it wraps the context's error).
	ErrSaveFailed = errors.New("sync: background save failed")

	// ErrAOFFailed: the AOF could not be written or rewritten (aof_last_write_status or
	// aof_last_bgrewrite_status is err), or EnableAOF did not finish before the deadline (then it
	// wraps the context's error).
	ErrAOFFailed = errors.New("sync: append-only file failed")

	// ErrCleanup: the call itself succeeded (its result is valid) but removing tokens from
	// sync:wait failed; a later call removes them once they are older than MaxAge.
	ErrCleanup = errors.New("sync: removing tokens from sync:wait failed")
)
