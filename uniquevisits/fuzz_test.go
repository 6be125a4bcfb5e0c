package uniquevisits

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSessionID: any string gives the book's id or ErrBadSessionID, never a panic, and the error
// never repeats the session id (it may be a secret token).
func FuzzParseSessionID(f *testing.F) {
	for _, s := range []string{"0b4c7f8e-0e4d-4e6a-9a7b-0d9c1c2f3e4d", "123456789abcdef", "12345678-9abc-def",
		"0x23456789abcdef0", "+123456789abcdef", "ÿ23456789abcdef0", "", "--------------------", "ABCDEF0123456789"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseSessionID(s)
		// The reference: the first 15 characters once dashes are removed, all hex.
		digits := strings.ReplaceAll(s, "-", "")
		var want int64 = -1
		if len(digits) >= 15 {
			if v, perr := strconv.ParseUint(digits[:15], 16, 64); perr == nil && !strings.ContainsAny(digits[:15], "+_xX") {
				want = int64(v)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrBadSessionID) {
				t.Fatalf("ParseSessionID(%q): error %v does not wrap ErrBadSessionID", s, err)
			}
			if len(s) >= 4 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q repeats the session id", err)
			}
			if want >= 0 {
				t.Fatalf("ParseSessionID(%q) refused an id the book reads as %d", s, want)
			}
			return
		}
		if id != want || id < 0 || id >= 1<<60 {
			t.Fatalf("ParseSessionID(%q) = %d; want %d", s, id, want)
		}
	})
}
