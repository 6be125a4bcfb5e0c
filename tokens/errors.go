package tokens

import "errors"

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
