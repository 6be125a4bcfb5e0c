package tokens

import (
	"errors"

	"github.com/ria-go/ria/internal/option"
)

// Once ctx has ended, every error also matches ctx.Err(), whatever go-redis reported (a deadline it
// enforced on the socket reads "i/o timeout").
var (
	// ErrInvalidToken: the token is empty.
	ErrInvalidToken = errors.New("tokens: invalid token")

	// ErrInvalidUser: the user is empty.
	ErrInvalidUser = errors.New("tokens: invalid user")

	// ErrUnknownOutcome: commands were sent and a reply was lost (network error, timeout, cancelled
	// context): any of them may have been applied, ZINCRBY included. It wraps the cause. Do not
	// retry blindly: ZINCRBY is not idempotent.
	ErrUnknownOutcome = errors.New("tokens: outcome unknown")

	// ErrBadOption: an Options field holds a value the option rule refuses. The rule is the same in
	// every package of the module (go-redis's): 0 means the default, -1 means off where the field's
	// doc says so, and any other negative value is an error. The error is an *OptionError naming the
	// field; ErrBadOption is one value shared by all the packages (conn.ErrBadOption is the same).
	ErrBadOption = option.ErrBadOption
)

// OptionError is the error New returns for a refused Options field: it names the Options type, the
// field and the value, and matches ErrBadOption.
type OptionError = option.Error
