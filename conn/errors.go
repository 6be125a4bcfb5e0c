package conn

import (
	"errors"
	"strconv"
	"strings"
)

var (
	// ErrNoConfig: no config is stored for the component (the book fell back to localhost silently).
	ErrNoConfig = errors.New("conn: no config stored")
	// ErrBadConfig: the stored or given config is not valid JSON, has an unknown field, a wrong type
	// or an impossible combination.
	ErrBadConfig = errors.New("conn: bad config")
	// ErrInsecureTLS: the config turns off TLS verification and the caller does not allow it.
	ErrInsecureTLS = errors.New("conn: insecure TLS not allowed (set Options.AllowInsecureTLS, or use Config.NewClientAllowInsecure)")
	// ErrNotLoaded: SetConfig stored the config, but the registry could not switch to it; the error
	// wraps the cause too. The stored config is what the next refresh reads.
	ErrNotLoaded = errors.New("conn: config stored, but not loaded")
	// ErrClosed: the registry has been closed.
	ErrClosed = errors.New("conn: registry closed")
	// ErrKind: Options, ClusterOptions or FailoverOptions was asked of a config of another Kind.
	ErrKind = errors.New("conn: config is of another kind")
	// ErrClientType: the component's client is not of the type asked for (As, Call and the Wrap
	// functions' C), or does not implement that interface.
	ErrClientType = errors.New("conn: client is not of the type asked for")
)

// ConfigError names the config key and field that were wrong. It never holds a value from the config,
// so it cannot show a password.
type ConfigError struct {
	Key   string // "config:redis:<component>"; empty when parsing bytes not tied to a key
	Field string // the JSON field, empty when the problem is the whole document
	Err   error  // wraps ErrNoConfig, ErrBadConfig or ErrInsecureTLS, or a config server error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("conn: ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString("field ")
		b.WriteString(strconv.Quote(e.Field)) // an unknown key may hold anything
		b.WriteString(": ")
	}
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "conn: "))
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// notLoaded is SetConfig's error when the write succeeded and the switch did not. It keeps the cause's
// key and field and unwraps to both ErrNotLoaded and the cause.
func notLoaded(key string, cause error) error {
	out := &ConfigError{Key: key}
	var ce *ConfigError
	if errors.As(cause, &ce) {
		out.Field, cause = ce.Field, ce.Err
	}
	out.Err = &notLoadedErr{cause: cause}
	return out
}

type notLoadedErr struct{ cause error }

func (e *notLoadedErr) Error() string {
	return "config stored, but not loaded: " + strings.TrimPrefix(e.cause.Error(), "conn: ")
}

func (e *notLoadedErr) Unwrap() []error { return []error{ErrNotLoaded, e.cause} }
