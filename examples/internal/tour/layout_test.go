package tour

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// The layout over random addresses and random parts, against a model of what each database holds:
// every server handed out is an empty database in 1 to 15, never the configs' one; a part's servers
// are distinct until it has every database, and shared only when it asked to; an earlier part's
// database is always in reused (so it is emptied); a failed claim changes nothing.
func TestLayoutProperties(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 10))
	for iter := range 1500 {
		addrs := make([]string, 1+r.IntN(4))
		for i := range addrs {
			addrs[i] = fmt.Sprintf("10.0.0.%d:6379", i)
		}
		l := newLayout(addrs)
		if len(l.slots) != (lastDB-firstDB+1)*len(addrs)-1 || slices.Contains(l.slots, l.config) {
			t.Fatalf("%d addresses: %d slots (config %v in them: %v)", len(addrs), len(l.slots), l.config, slices.Contains(l.slots, l.config))
		}
		holds := map[slot]int{} // the part whose keys a database holds; 0: empty
		for part := 1; part <= 1+r.IntN(8); part++ {
			mine := map[slot]bool{}
			for range r.IntN(4) {
				n, share := 1+r.IntN(25), r.IntN(2) == 0
				free := len(l.slots) - len(mine)
				owners := slices.Clone(l.owner)
				got, reused, err := l.claim(part, n, share)
				fail := func(format string, args ...any) {
					t.Fatalf("seed %d iter %d, %d addrs, part %d, claim(%d, share %v) with %d free: %s",
						seed, iter, len(addrs), part, n, share, free, fmt.Sprintf(format, args...))
				}
				if wantErr := free == 0 || (n > free && !share); wantErr != (err != nil) {
					fail("error %v; want one: %v", err, wantErr)
				}
				if err != nil {
					if !errors.Is(err, ErrTooFewDatabases) || !slices.Equal(owners, l.owner) {
						fail("%v, owners changed %v", err, !slices.Equal(owners, l.owner))
					}
					continue
				}
				for _, s := range reused {
					if holds[s] == 0 || holds[s] == part {
						fail("reused %v, which holds part %d's keys", s, holds[s])
					}
					holds[s] = 0 // the caller empties it
				}
				if len(got) != n {
					fail("%d servers", len(got))
				}
				var distinct []slot
				seen := map[slot]bool{}
				for _, s := range got {
					if !seen[s] {
						seen[s] = true
						distinct = append(distinct, s)
					}
				}
				if len(distinct) != min(n, free) {
					fail("%d distinct of %d", len(distinct), n)
				}
				for _, s := range distinct {
					if mine[s] || holds[s] != 0 || s == l.config || s.db < firstDB || s.db > lastDB || !slices.Contains(addrs, s.addr) {
						fail("handed out %v: this part's already %v, holds part %d's keys", s, mine[s], holds[s])
					}
					mine[s], holds[s] = true, part
				}
			}
		}
	}
}

// The tour's parts on one address, as a fresh redis-server run showed them: chapter 10's 17 servers
// got chapter 9's database (unique:<date>:<n> sets of the same visitors) without emptying it, so
// its count and recount disagreed. Now that database is emptied first, and the 3 servers too many
// share databases of chapter 10's own.
func TestLayoutTourOneAddress(t *testing.T) {
	l := newLayout([]string{"127.0.0.1:6379"})
	claim := func(part, n int, share bool) ([]slot, []slot) {
		got, reused, err := l.claim(part, n, share)
		if err != nil {
			t.Fatal(err)
		}
		return got, reused
	}
	claim(1, 1, false) // ch04 logs
	claim(3, 1, false) // ch04 market
	claim(4, 1, false) // ch04 tokens
	claim(5, 2, false) // ch05
	ch09, _ := claim(6, 1, false)
	ch10, reused := claim(7, 17, true)
	if !slices.Contains(reused, ch09[0]) {
		t.Errorf("chapter 10 reuses %v; chapter 9's %v is not emptied", reused, ch09[0])
	}
	if len(reused) != 6 {
		t.Errorf("chapter 10 empties %d databases; want the 6 of the earlier parts", len(reused))
	}
	for i, s := range ch10 {
		if s.db == 0 || s == l.config {
			t.Errorf("chapter 10 server %d: %v", i, s)
		}
		if want := ch10[i%14]; s != want {
			t.Errorf("chapter 10 server %d: %v; want %v (its 14 databases round robin)", i, s, want)
		}
	}
	if _, _, err := l.claim(7, 1, false); !errors.Is(err, ErrTooFewDatabases) {
		t.Errorf("one more server for chapter 10: %v; want ErrTooFewDatabases", err)
	}
}

// parseAddrs accepts host:port lists only, refuses everything else with a typed error, and never
// echoes a list that names a user or password.
func FuzzParseAddrs(f *testing.F) {
	for _, s := range []string{"127.0.0.1:6379", "a:1,b:2", "a:1,a:1", "a", "a:0", ":1", "[::1]:6379", "a:1,",
		"redis://app:s3cret@h:6379", "u:pa,ss@h:1", "h:1 , g:2", "h:+1", "h:0x10", "h:1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addrs, err := parseAddrs(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddr) && !errors.Is(err, ErrSameServer) {
				t.Fatalf("parseAddrs(%q): untyped %v", s, err)
			}
			if strings.Contains(s, "@") && (strings.Contains(err.Error(), `"`) || ExitCode(err) != 2) {
				t.Fatalf("parseAddrs(%q) echoes a list with a password: %v", s, err)
			}
			return
		}
		if len(addrs) != strings.Count(s, ",")+1 {
			t.Fatalf("parseAddrs(%q) = %q", s, addrs)
		}
		seen := map[string]bool{}
		for _, a := range addrs {
			host, port, err := net.SplitHostPort(a)
			if err != nil || host == "" || port == "" || seen[a] || strings.ContainsAny(a, "@, \t\n") {
				t.Fatalf("parseAddrs(%q) accepted %q", s, a)
			}
			seen[a] = true
		}
	})
}
