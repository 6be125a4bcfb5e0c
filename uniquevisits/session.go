package uniquevisits

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// The book's session ids are uuid4() strings: lower case, with dashes. The same UUID spelled another
// way (upper case, no dashes, in braces, with urn:uuid:) is the same session, and is counted and
// routed as its canonical spelling, so it lands on the server and in the set the book's code uses.

// SessionIDError is a session id that is not a UUID. It says what is wrong by length and position,
// never by value: a session id is a login token.
type SessionIDError struct {
	Len    int    // the id's length in bytes
	Pos    int    // the first byte that does not fit; -1 when no spelling has this length
	Reason string // what was wrong there
}

func (e *SessionIDError) Error() string {
	if e.Pos < 0 {
		return fmt.Sprintf("%v: %s (a session id of %d bytes)", ErrBadSessionID, e.Reason, e.Len)
	}
	return fmt.Sprintf("%v: byte %d of %d: %s", ErrBadSessionID, e.Pos, e.Len, e.Reason)
}

// Unwrap makes errors.Is(err, ErrBadSessionID) hold.
func (e *SessionIDError) Unwrap() error { return ErrBadSessionID }

const (
	urnPrefix   = "urn:uuid:"
	spellings   = "a UUID: 36 bytes xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, 32 without dashes, 38 in braces, or 45 after urn:uuid:"
	dashedLen   = 36
	undashedLen = 32
)

// CanonicalSessionID returns the session id's canonical spelling, the one uuid4() gives: lower case
// with dashes. It accepts a UUID in the spellings google/uuid.Parse reads: any case, with or without
// dashes, in braces, or after urn:uuid:. It is stricter about braces (uuid.Parse takes any first and
// last byte of 38), and refuses anything else, trailing bytes included, with a *SessionIDError.
func CanonicalSessionID(sessionID string) (string, error) {
	u, err := parseUUID(sessionID)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// ParseSessionID returns the visitor id of a session id: the first 15 hexadecimal digits of its
// UUID, as an integer (the book's int(session_id.replace("-", "")[:15], 16), its first 60 bits). The
// session id must be a UUID in one of the spellings CanonicalSessionID accepts, or it is a
// *SessionIDError wrapping ErrBadSessionID. The book silently counted a shorter id, ignored whatever
// came after the 15th digit, and accepted Python's extras (a sign, "0x", spaces, underscores).
func ParseSessionID(sessionID string) (int64, error) {
	_, id, err := session(sessionID)
	return id, err
}

// session is the canonical spelling and the visitor id of a session id.
func session(sessionID string) (string, int64, error) {
	u, err := parseUUID(sessionID)
	if err != nil {
		return "", 0, err
	}
	var hi uint64
	for _, b := range u[:8] {
		hi = hi<<8 | uint64(b)
	}
	return u.String(), int64(hi >> 4), nil
}

func parseUUID(s string) (uuid.UUID, error) {
	var u uuid.UUID
	bad := func(pos int, reason string) (uuid.UUID, error) {
		return uuid.UUID{}, &SessionIDError{Len: len(s), Pos: pos, Reason: reason}
	}
	off := 0
	switch len(s) {
	case undashedLen:
		for i := range u {
			v, pos, ok := hexByte(s, 2*i)
			if !ok {
				return bad(pos, "not a hex digit")
			}
			u[i] = v
		}
		return u, nil
	case dashedLen:
	case dashedLen + 2:
		if s[0] != '{' {
			return bad(0, "38 bytes must be a UUID in braces: want {")
		}
		if s[len(s)-1] != '}' {
			return bad(len(s)-1, "38 bytes must be a UUID in braces: want }")
		}
		off = 1
	case dashedLen + len(urnPrefix):
		if !strings.EqualFold(s[:len(urnPrefix)], urnPrefix) {
			return bad(0, "45 bytes must be a UUID after urn:uuid:")
		}
		off = len(urnPrefix)
	default:
		return bad(-1, "not "+spellings)
	}
	i := 0
	for p := 0; p < dashedLen; {
		if p == 8 || p == 13 || p == 18 || p == 23 {
			if s[off+p] != '-' {
				return bad(off+p, "want a dash")
			}
			p++
			continue
		}
		v, pos, ok := hexByte(s, off+p)
		if !ok {
			return bad(pos, "not a hex digit")
		}
		u[i] = v
		i++
		p += 2
	}
	return u, nil
}

// hexByte reads the two hex digits at s[i:i+2]; on failure pos is the one that is not a digit.
func hexByte(s string, i int) (byte, int, bool) {
	hi, ok := hexDigit(s[i])
	if !ok {
		return 0, i, false
	}
	lo, ok := hexDigit(s[i+1])
	if !ok {
		return 0, i + 1, false
	}
	return hi<<4 | lo, 0, true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
