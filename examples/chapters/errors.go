package chapters

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrBadAddr: an -addr (or RIA_REDIS_ADDR) entry is not host:port. Exit code 2.
	ErrBadAddr = errors.New("chapters: bad -addr")

	// ErrSameServer: two -addr addresses name one server (the same address twice, or two addresses
	// whose servers report the same run_id), so their databases would overlap. Exit code 2.
	ErrSameServer = errors.New("chapters: two -addr addresses name one server")

	// ErrUnknownChapter: -chapter names no registered chapter. Exit code 2.
	ErrUnknownChapter = errors.New("chapters: no such chapter")

	// ErrNotEmpty: a database the tour would use holds keys, and -flush was not given; see
	// NotEmptyError. Exit code 1.
	ErrNotEmpty = errors.New("chapters: database not empty")

	// ErrNoDatabase: a server refuses SELECT of a database the tour uses (redis.conf's databases is
	// below 16, or it is a Redis Cluster node). Exit code 1.
	ErrNoDatabase = errors.New("chapters: server lacks a database")

	// ErrTooFewDatabases: a part asks for more distinct servers than the databases left. Exit code 1.
	ErrTooFewDatabases = errors.New("chapters: too few databases")
)

// Database names a database on a real server and how many keys it holds.
type Database struct {
	Addr string
	DB   int
	Keys int64
}

// NotEmptyError is the tour's refusal to touch databases that hold keys; it wraps ErrNotEmpty.
// Nothing was written to any server when it is returned.
type NotEmptyError struct {
	Databases []Database
}

func (e *NotEmptyError) Error() string {
	var list []string
	for i, d := range e.Databases {
		where := d.Addr + " "
		if i > 0 && e.Databases[i-1].Addr == d.Addr {
			where = ""
		}
		list = append(list, fmt.Sprintf("%sdb %d (%s)", where, d.DB, keys(d.Keys)))
	}
	return fmt.Sprintf("%v: %s; the tour uses only empty databases %d to %d (pass -flush to empty them)",
		ErrNotEmpty, strings.Join(list, ", "), firstDB, lastDB)
}

func (e *NotEmptyError) Unwrap() error { return ErrNotEmpty }

// exitCode is the tour's exit code for err: 0 for none, 2 for bad usage, 1 for any other failure.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrBadAddr), errors.Is(err, ErrSameServer), errors.Is(err, ErrUnknownChapter), errors.Is(err, errUsage):
		return 2
	default:
		return 1
	}
}

// errUsage marks the flag errors.
var errUsage = errors.New("usage")

// keys is "1 key" or "n keys".
func keys(n int64) string {
	if n == 1 {
		return "1 key"
	}
	return fmt.Sprintf("%d keys", n)
}
