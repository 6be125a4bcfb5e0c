package tokens

import "errors"

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
)
