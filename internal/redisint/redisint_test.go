package redisint

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
)

var canonical = regexp.MustCompile(`^(0|-?[1-9][0-9]*)$`)

// Parse accepts a string exactly when it is a canonical decimal that fits in int64, over generated
// strings near the edges: signs, zeros, spaces, 19- and 20-digit numbers.
func TestParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("+-00123456789 x.")
	for range 20000 {
		b := make([]byte, rng.IntN(22))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := string(b)
		n, ok := Parse(s)
		_, rangeErr := strconv.ParseInt(s, 10, 64)
		want := canonical.MatchString(s) && rangeErr == nil
		if ok != want {
			t.Fatalf("Parse(%q) = %d, %v; want ok %v", s, n, ok, want)
		}
		if ok && strconv.FormatInt(n, 10) != s {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
	}
	for _, s := range []string{"9223372036854775807", "-9223372036854775808", "0", "-1"} {
		if _, ok := Parse(s); !ok {
			t.Errorf("Parse(%q) refused", s)
		}
	}
	for _, s := range []string{"9223372036854775808", "-0", "+1", "01", " 1", "1 ", "", "-", "١"} {
		if _, ok := Parse(s); ok {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}
