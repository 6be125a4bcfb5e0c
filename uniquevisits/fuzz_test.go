package uniquevisits

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ria-go/ria/shard"
)

// FuzzParseSessionID: any string is either a UUID in an accepted spelling, giving the canonical
// spelling, the book's id (its first 15 hex digits) and the canonical string's server, or a
// *SessionIDError that never repeats the session id (it may be a secret token). The reference is
// google/uuid.Parse, less the 38-byte form it reads without checking the braces.
func FuzzParseSessionID(f *testing.F) {
	for _, s := range []string{"0b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d", "123456789abcdef", "12345678-9abc-def",
		"0x23456789abcdef0", "+123456789abcdef", "ÿ23456789abcdef0", "", "--------------------", "ABCDEF0123456789",
		"0B4C7F8E-0E4D-4E6A-9A7B-0D9C1C2F3E4D", "0b4c7f8e0e4d4e6a9a7b0d9c1c2f3e4d", "{0b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d}",
		"urn:uuid:0b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d", "URN:UUID:0b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d",
		"0b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4dx", "x0b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4dx", "0b4c7f8e0e4d4e6a9a7b0d9c1c2f3e4d0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		canonical, cerr := CanonicalSessionID(s)
		id, err := ParseSessionID(s)
		if (cerr == nil) != (err == nil) {
			t.Fatalf("CanonicalSessionID(%q): %v but ParseSessionID: %v", s, cerr, err)
		}
		u, perr := uuid.Parse(s)
		braced := len(s) == 38 && s[0] == '{' && s[37] == '}'
		want := perr == nil && (len(s) != 38 || braced)
		if err != nil {
			var se *SessionIDError
			if !errors.Is(err, ErrBadSessionID) || !errors.As(err, &se) || se.Len != len(s) || se.Pos < -1 || se.Pos >= len(s) {
				t.Fatalf("ParseSessionID(%q): %#v; want a *SessionIDError wrapping ErrBadSessionID", s, err)
			}
			// The message is made of the length, a position and a fixed reason: it cannot carry the id.
			if !knownReason(se.Reason) || err.Error() != (&SessionIDError{Len: se.Len, Pos: se.Pos, Reason: se.Reason}).Error() {
				t.Fatalf("error %q says more than the length, a position and a fixed reason", err)
			}
			if len(s) >= 16 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q repeats the session id", err)
			}
			if want {
				t.Fatalf("ParseSessionID(%q) refused a UUID: %v", s, err)
			}
			return
		}
		if !want {
			t.Fatalf("ParseSessionID(%q) = %d; uuid.Parse: %v; want ErrBadSessionID", s, id, perr)
		}
		if canonical != u.String() {
			t.Fatalf("CanonicalSessionID(%q) = %q; want %q", s, canonical, u.String())
		}
		// The book's id: int(sid.replace("-", "")[:15], 16) of the canonical spelling.
		var book int64
		for _, c := range strings.ReplaceAll(canonical, "-", "")[:15] {
			d, _ := hexDigit(byte(c))
			book = book<<4 | int64(d)
		}
		if id != book {
			t.Fatalf("ParseSessionID(%q) = %d; want %d", s, id, book)
		}
		// Every spelling of it routes with the canonical string.
		for _, sp := range []string{canonical, strings.ToUpper(canonical), strings.ReplaceAll(canonical, "-", ""),
			"{" + canonical + "}", "urn:uuid:" + strings.ToUpper(canonical)} {
			if c, err := CanonicalSessionID(sp); err != nil || c != canonical {
				t.Fatalf("CanonicalSessionID(%q) = %q, %v; want %q", sp, c, err, canonical)
			}
		}
		if a, b := shardOf(t, s), shardOf(t, canonical); a != b {
			t.Fatalf("%q goes to %s, its canonical spelling to %s", s, a, b)
		}
	})
}

func knownReason(r string) bool {
	switch r {
	case "not " + spellings, "not a hex digit", "want a dash", "38 bytes must be a UUID in braces: want {",
		"38 bytes must be a UUID in braces: want }", "45 bytes must be a UUID after urn:uuid:":
		return true
	}
	return false
}

// shardOf is the component Counter.CountVisit sends sessionID's set to.
func shardOf(t *testing.T, sessionID string) string {
	t.Helper()
	canonical, _, err := session(sessionID)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := shard.Component(Component, canonical, Shards)
	if err != nil {
		t.Fatal(err)
	}
	return comp
}
