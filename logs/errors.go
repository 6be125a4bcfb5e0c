package logs

import (
	"errors"
	"fmt"
)

var (
	// ErrBadInput: a nil client or callback, an empty directory name, or a negative option.
	ErrBadInput = errors.New("logs: bad input")

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
