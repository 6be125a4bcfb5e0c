package tour

import (
	"fmt"
	"strings"
)

// The databases the tour uses on real servers: 1 to 15 of every address, never database 0. The
// configs (config:redis:*) take database 1 of the first address; the chapters' servers, the rest.
const (
	firstDB  = 1
	lastDB   = 15
	configDB = firstDB
)

// slot is one database on one real server.
type slot struct {
	addr string
	db   int
}

func (s slot) String() string { return fmt.Sprintf("%s db %d", s.addr, s.db) }

// layout hands out the real servers' databases to the parts of the tour. A part's servers are
// databases no other server of that part uses, unless the part asks to share (chapter 10's 17
// servers on one address). A database an earlier part used is emptied before it is handed out
// again, so no part sees another's keys (chapter 9 and 10 both write unique:<date>:<n>).
type layout struct {
	config slot
	slots  []slot // in hand-out order: database by database, round robin over the addresses
	owner  []int  // per slot: the part that last had it; 0: none in this run
	next   int    // where the round robin goes on
}

func newLayout(addrs []string) *layout {
	l := &layout{config: slot{addrs[0], configDB}}
	for db := firstDB; db <= lastDB; db++ {
		for _, a := range addrs {
			if s := (slot{a, db}); s != l.config {
				l.slots = append(l.slots, s)
			}
		}
	}
	l.owner = make([]int, len(l.slots))
	return l
}

// claim hands part (1, 2, ...) n databases. They are distinct while the part has not taken every
// slot; beyond that, with share, the rest repeat the ones handed out in this claim, round robin, and
// without share the claim fails with ErrTooFewDatabases. reused lists the databases an earlier part
// had: the caller empties them before use. A failed claim changes nothing.
func (l *layout) claim(part, n int, share bool) (got, reused []slot, err error) {
	free := 0
	for _, o := range l.owner {
		if o != part {
			free++
		}
	}
	if n < 1 {
		return nil, nil, fmt.Errorf("tour: %d servers asked for", n)
	}
	if free == 0 || (n > free && !share) {
		return nil, nil, fmt.Errorf("%w: this part asks for %d more servers, and %d of the %d databases are left (%s): give more -addr addresses",
			ErrTooFewDatabases, n, free, len(l.slots), l.describe())
	}
	for len(got) < min(n, free) {
		i := l.next
		l.next = (l.next + 1) % len(l.slots)
		if l.owner[i] == part {
			continue
		}
		if l.owner[i] != 0 {
			reused = append(reused, l.slots[i])
		}
		l.owner[i] = part
		got = append(got, l.slots[i])
	}
	for i := 0; len(got) < n; i++ {
		got = append(got, got[i])
	}
	return got, reused, nil
}

// describe says which databases the layout has.
func (l *layout) describe() string {
	addrs := map[string]bool{}
	var list []string
	for _, s := range l.slots {
		if !addrs[s.addr] {
			addrs[s.addr] = true
			list = append(list, s.addr)
		}
	}
	return fmt.Sprintf("databases %d to %d of %s, but %s holds the configs", firstDB, lastDB, strings.Join(list, ", "), l.config)
}
