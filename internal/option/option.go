// Package option checks and fills the numeric fields of the toolkit's Options structs, by the rule
// go-redis uses for its own options: 0 means the default, -1 turns the setting off where off
// means something (no bound, no timeout, never), and any other negative value is an error.
//
// Every package re-exports the one sentinel, ErrBadOption, and the error type, Error, so
// errors.Is(err, conn.ErrBadOption) and errors.Is(err, market.ErrBadOption) hold for the same
// errors, and errors.As with a *conn.OptionError (an alias of *Error) names the Options type and
// the field whichever package refused it.
package option

import (
	"errors"
	"fmt"
	"time"
)

// Off is the value that turns a setting off, for the fields where off means something.
const Off = -1

// ErrBadOption: an Options field holds a value the rule does not allow.
var ErrBadOption = errors.New("bad option")

// Error names the Options type and the field that was refused, and the value.
type Error struct {
	Type  string // the Options type, package-qualified: "conn.Options"
	Field string // the field: "Wait"
	Value string // the value as given: "-2s"
	Off   bool   // the field accepts -1 (off)

	also error // a package's own sentinel that the error matches too, or nil
}

func (e *Error) Error() string {
	allowed := "0 (the default) or a positive value"
	if e.Off {
		allowed = "0 (the default), -1 (off) or a positive value"
	}
	return fmt.Sprintf("%s.%s is %s: %v: want %s", e.Type, e.Field, e.Value, ErrBadOption, allowed)
}

// Unwrap makes errors.Is hold for ErrBadOption and for the package's sentinel, if any.
func (e *Error) Unwrap() []error {
	if e.also == nil {
		return []error{ErrBadOption}
	}
	return []error{ErrBadOption, e.also}
}

// Of names one Options type for the errors of its fields.
type Of struct {
	Type string // "logs.Options"
	Also error  // a package sentinel the errors also match (logs.ErrBadInput), or nil
}

// Number is what Fill checks: the integer kinds Options fields use, time.Duration included.
type Number interface {
	~int | ~int32 | ~int64
}

// Fill applies the rule to one field: 0 becomes def; -1 stays -1 when off is true (the caller
// reads it as "off") and is an error otherwise; any other negative value is an error naming the
// field. A positive value is left as it is.
func Fill[T Number](of Of, field string, v *T, def T, off bool) error {
	switch {
	case *v == 0:
		*v = def
	case *v == Off && off:
	case *v < 0:
		return &Error{Type: of.Type, Field: field, Value: format(*v), Off: off, also: of.Also}
	}
	return nil
}

func format[T Number](v T) string {
	if d, ok := any(v).(time.Duration); ok {
		return d.String()
	}
	return fmt.Sprint(int64(v))
}

// Join is errors.Join for the checks of one Options value: nil when every check passed, the one error
// itself when only one failed (so err.(*Error) works as errors.As does), else their join.
func Join(errs ...error) error {
	var one error
	n := 0
	for _, err := range errs {
		if err != nil {
			one, n = err, n+1
		}
	}
	if n <= 1 {
		return one
	}
	return errors.Join(errs...)
}
