package hostset

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/ria-go/ria/internal/option"
)

var (
	// ErrUnroutable: a command cannot be sent to exactly one host (it names no key, several keys,
	// or keys the router cannot find), rb's UnroutableCommand. Use Fanout, or a host's own client.
	ErrUnroutable = errors.New("hostset: command cannot be routed to one host")
	// ErrNoHost: a host id that the set does not have.
	ErrNoHost = errors.New("hostset: no such host")
	// ErrBadHosts: the host setup is unusable (no hosts, ids not 0..n-1, a bad config, a router that
	// cannot reach every host, a ring node of weight below 1), or a host list given to Fanout names
	// a host twice.
	ErrBadHosts = errors.New("hostset: bad host setup")
	// ErrBadOption: an Options field out of range; the error is an *OptionError naming the field. It is
	// the same sentinel in every package of the toolkit.
	ErrBadOption = option.ErrBadOption
	// ErrBadArg: a command argument that go-redis cannot write (its "can't marshal" error, or a
	// MarshalBinary that failed). The command is refused before it is sent; the error is an *ArgError.
	ErrBadArg = errors.New("hostset: argument cannot be sent")
	// ErrClosed: the Hosts has been closed.
	ErrClosed = errors.New("hostset: closed")
)

// HostError is a failure to reach one host: the host is down, did not answer before the deadline, or
// its client could not be made. It names the host; every command sent to that host carries it, and the
// other hosts' commands are unaffected.
type HostError struct {
	Host int    // host id
	Addr string // the host's address (or component name when loaded from a registry), if known
	Err  error
}

func (e *HostError) Error() string {
	s := "hostset: host " + strconv.Itoa(e.Host)
	if e.Addr != "" {
		s += " (" + e.Addr + ")"
	}
	return s + ": " + e.Err.Error()
}

func (e *HostError) Unwrap() error { return e.Err }

// UnroutableError says why one command was refused; it wraps ErrUnroutable, and Err when set.
type UnroutableError struct {
	Command string // lower-case command name, "get" or "object|encoding"
	Reason  string
	Err     error // the cause (an *ArgError, a *shard.EncodeError), if any
}

func (e *UnroutableError) Error() string {
	s := fmt.Sprintf("hostset: command %q cannot be routed to one host: %s", e.Command, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *UnroutableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnroutable}
	}
	return []error{ErrUnroutable, e.Err}
}

// ArgError is an argument go-redis cannot write; it wraps ErrBadArg and go-redis's (or
// MarshalBinary's) error.
type ArgError struct {
	Command string // lower-case command name, "" when the name itself is the bad argument
	Pos     int    // index in the command's arguments (0 is the name)
	Type    string // the argument's Go type
	Err     error
}

func (e *ArgError) Error() string {
	return fmt.Sprintf("hostset: command %q argument %d (%s) cannot be sent: %v", e.Command, e.Pos, e.Type, e.Err)
}

func (e *ArgError) Unwrap() []error { return []error{ErrBadArg, e.Err} }

// OptionError is an Options field out of range: the toolkit's one option error (internal/option),
// which names the Options type, the field and the value, and wraps ErrBadOption.
type OptionError = option.Error
