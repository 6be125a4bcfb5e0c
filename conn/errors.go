package conn

import (
	"errors"
	"strings"
)

var (
	// ErrNoConfig: no config is stored for the component (the book fell back to localhost silently).
	ErrNoConfig = errors.New("conn: no config stored")
	// ErrBadConfig: the stored or given config is not valid JSON, has an unknown field, a wrong type
	// or an impossible combination.
	ErrBadConfig = errors.New("conn: bad config")
	// ErrInsecureTLS: the config turns off TLS verification and the registry does not allow it.
	ErrInsecureTLS = errors.New("conn: insecure TLS not allowed (set Options.AllowInsecureTLS)")
	// ErrClosed: the registry has been closed.
	ErrClosed = errors.New("conn: registry closed")
	// ErrClientType: a wrapped function asks for a client interface the component's client lacks.
	ErrClientType = errors.New("conn: client does not implement the wrapped function's client type")
)

// ConfigError names the config key and field that were wrong. It never holds a password.
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
		b.WriteString("field \"")
		b.WriteString(e.Field)
		b.WriteString("\": ")
	}
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "conn: "))
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// redacted is an error whose message has secrets masked. It unwraps to what the original wrapped
// (a sentinel such as ErrBadConfig), never to the original, whose message holds the secret.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// redactErr masks every non-empty secret in err's message.
func redactErr(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "*****")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &redacted{msg: msg, err: errors.Unwrap(err)}
}
