package tour

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrBadAddr: an -addr (or RIA_REDIS_ADDR) entry is not host:port. Exit code 2.
	ErrBadAddr = errors.New("tour: bad -addr")

	// ErrSameServer: two -addr addresses name one server (the same address twice, or two addresses
	// whose servers report the same run_id), so their databases would overlap. Exit code 2.
	ErrSameServer = errors.New("tour: two -addr addresses name one server")

	// ErrUnknownChapter: -chapter names none of the chapters given to Main. Exit code 2.
	ErrUnknownChapter = errors.New("tour: no such chapter")

	// ErrNotEmpty: a database the tour would use holds keys, and -flush was not given; see
	// NotEmptyError. Exit code 1.
	ErrNotEmpty = errors.New("tour: database not empty")

	// ErrNoDatabase: a server has no database the tour uses: SELECT is refused as out of range
	// (redis.conf's databases is below 16) or as not allowed (a Redis Cluster node). Any other
	// refusal of SELECT is not this error (ErrAccess for authentication and permissions). Exit code 1.
	ErrNoDatabase = errors.New("tour: server lacks a database")

	// ErrAccess: a server refuses the tour's connection, which has no user or password: it asks for
	// authentication (NOAUTH, WRONGPASS) or its default user lacks a permission (NOPERM). Exit code 1.
	ErrAccess = errors.New("tour: server refuses access")

	// ErrTooFewDatabases: a part asks for more distinct servers than the databases left. Exit code 1.
	ErrTooFewDatabases = errors.New("tour: too few databases")
)

// Database names a database on a real server and how many keys it holds.
type Database struct {
	Addr string
	DB   int
	Keys int64
}

// NotEmptyError is the refusal to touch databases that hold keys; it wraps ErrNotEmpty.
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

// ExitCode is Main's exit code for err: 0 for none, 2 for bad usage, 1 for any other failure.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrBadAddr), errors.Is(err, ErrSameServer), errors.Is(err, ErrUnknownChapter):
		return 2
	default:
		return 1
	}
}

// keys is "1 key" or "n keys".
func keys(n int64) string {
	if n == 1 {
		return "1 key"
	}
	return fmt.Sprintf("%d keys", n)
}
