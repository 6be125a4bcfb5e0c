package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/examples/ch10/ch10"
	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/uniquevisits"
)

// What the chapters do, as the checks below expect it: written out here rather than read from the
// chapters, so that a change to a chapter shows up as a failure to look at.
const (
	marketBuyers  = 8     // ch04's race
	marketItems   = 40    // listed at 10, 11, ..., 49
	marketFunds   = 1180  // each buyer's funds: every price, summed
	ch09Users     = 10000 // names in sharded hashes
	ch09ShardSize = 128   // hash shard size
	ch09Visits    = 6000
	ch10Visits    = 3000
	logVisits     = 4000 // ch10's access logs: lines with a session id
	logBadLines   = 2
)

// matches returns every match of pattern in out, each as its submatches parsed as integers where
// they are integers (0 otherwise), and fails the test when there are not want matches.
func matches(t *testing.T, out, pattern string, want int) [][]int64 {
	t.Helper()
	all := regexp.MustCompile(pattern).FindAllStringSubmatch(out, -1)
	if len(all) != want {
		t.Errorf("output has %d lines matching %q; want %d", len(all), pattern, want)
	}
	var res [][]int64
	for _, m := range all {
		nums := make([]int64, len(m))
		for i, s := range m[1:] {
			nums[i+1], _ = strconv.ParseInt(s, 10, 64)
		}
		res = append(res, nums)
	}
	return res
}

// distinctVisitors is how many different visitor ids CountVisit derives from the sessions.
func distinctVisitors(t *testing.T, sessions []string) int64 {
	t.Helper()
	ids := map[int64]bool{}
	for _, s := range sessions {
		id, err := uniquevisits.ParseSessionID(s)
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	return int64(len(ids))
}

// checkTour checks the headings of the named chapters (all when none are named) and the key results
// of each, computed here independently where they are numbers.
func checkTour(t *testing.T, out string, names ...string) {
	t.Helper()
	ran := func(name string) bool { return len(names) == 0 || slices.Contains(names, name) }
	for _, p := range parts {
		if got := strings.Contains(out, "== "+p.Chapter+": "+p.Title); got != ran(p.Chapter) {
			t.Errorf("the tour ran %s (%s): %v; want %v", p.Chapter, p.Title, got, ran(p.Chapter))
		}
	}
	if strings.Contains(out, "differs") {
		t.Error("a count differs")
	}
	if strings.Contains(out, "s3cret") {
		t.Error("the tour printed a password")
	}
	if ran("ch04") {
		checkCh04(t, out)
	}
	if ran("ch05") {
		checkCh05(t, out)
	}
	if ran("ch09") {
		checkCh09(t, out)
	}
	if ran("ch10") {
		checkCh10(t, out)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

func checkCh04(t *testing.T, out string) {
	t.Helper()
	contains := func(s string) {
		t.Helper()
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}
	// ch04 logs: every generated line counted once.
	for _, m := range matches(t, out, `counted (\d+) of (\d+) lines: each exactly once`, 1) {
		if m[1] != m[2] || m[1] == 0 {
			t.Errorf("logs: counted %d of %d lines", m[1], m[2])
		}
	}

	// ch04 sync, on servers started with redistest: never left out in a test.
	matches(t, out, `listing 4\.3 wait_for_sync \(fixed\): 1000 users:<id> on A reached B in`, 1)
	matches(t, out, `B: appendonly true, appendfsync everysec, on disk: true`, 1)
	matches(t, out, `the WAIT variant: 1 of 1 replicas acknowledged`, 1)
	matches(t, out, `B paused \(SIGSTOP\), Timeout 1s: sync: `, 1)
	matches(t, out, `B: REPLICAOF 127\.0\.0\.1 \d+: role:slave, link up true`, 1)
	matches(t, out, `config:redis:master now names C; 10 new users reached B, on disk: true`, 1)
	matches(t, out, `C died; B promoted: role:master`, 1)
	// 1011 users:<id> and the durable market's inventory:27 (market: and inventory:17 ended empty).
	matches(t, out, `D: role:slave, link up true, 1012 keys`, 1)

	// ch04 sync, the market's durable mode on A and B: confirmed while B runs; with B paused the
	// purchase is applied and returned, with ErrNotDurable, and B has it once resumed.
	matches(t, out, `(?m)^Frank \(17\) lists ItemM and ItemN for 40 each: both confirmed by B$`, 1)
	matches(t, out, `(?m)^Bill \(27\) buys ItemM: confirmed by B \(EXEC, then WAIT 1`, 1)
	matches(t, out, `B paused \(SIGSTOP\), Durable\.Timeout 200ms: Bill buys ItemN; PurchaseItem returns `+
		`\{Buyer 27 Item ItemN Seller 17 Price 40\} and\n +market: purchase: applied on the master: .*0 of 1 replicas confirmed\n`+
		` +ErrNotDurable true, ErrUnknownOutcome false: applied on the master, not confirmed\n`, 1)
	contains("B resumed and caught up (WAIT): inventory:27 on B [ItemM ItemN]")

	// ch04 market: refusals write nothing; each race conserves money and items.
	contains("data unchanged by the refusals: true")
	race := matches(t, out, `(?m)^(WATCH/MULTI/EXEC|Lua script): +(\d+) bought in .*, (\d+) gave up under contention\n +funds conserved \((\d+)\), seller took (\d+), (\d+) items owned$`, 2)
	for i, m := range race {
		if m[2] != marketItems || m[4] != marketBuyers*marketFunds || m[5] != marketFunds || m[6] != marketItems {
			t.Errorf("market race %d: bought %d, funds %d, seller took %d, owned %d; want %d, %d, %d, %d",
				i, m[2], m[4], m[5], m[6], marketItems, marketBuyers*marketFunds, marketFunds, marketItems)
		}
		if i == 1 && m[3] != 0 {
			t.Errorf("the Lua script gave up under contention %d times", m[3])
		}
	}

	checkLayout(t, out)

	// ch04 tokens: viewed:<token> trimmed to 25.
	contains("viewed:a81c04 holds 25, oldest Item06, latest ItemM")

}

// checkLayout checks ch04's cluster layout: the book's keys in three slots, and with the hash tag
// "market" the five keys the listings and the purchase leave, each in the tag's slot.
func checkLayout(t *testing.T, out string) {
	t.Helper()
	book := []int{shard.Slot("users:17"), shard.Slot("inventory:17"), shard.Slot("market:")}
	if book[0] == book[1] || book[1] == book[2] || book[0] == book[2] {
		t.Fatalf("the book's keys share a slot: %v", book)
	}
	matches(t, out, fmt.Sprintf(`default is the book's layout, shared with its Python code: users:17, inventory:17 and market:\n`+
		` +are in slots %d, %d and %d, so on a ClusterClient every write is ErrCrossSlot`, book[0], book[1], book[2]), 1)
	want := []string{"{market}inventory:17 SET", "{market}inventory:27 SET", "{market}market: ZSET", "{market}users:17 HASH", "{market}users:27 HASH"}
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^  (\{market\}\S+) +(\w+) +slot (\d+)$`).FindAllStringSubmatch(out, -1) {
		got = append(got, m[1]+" "+m[2])
		if slot, _ := strconv.Atoi(m[3]); slot != shard.Slot("market") {
			t.Errorf("%s in slot %d; want the tag's, %d", m[1], slot, shard.Slot("market"))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("tagged keys %q; want %q", got, want)
	}
	matches(t, out, fmt.Sprintf(`5 keys, every one starting with "\{market\}", in slots \[%d\]; Bill: funds 95, inventory \[ItemL\]`, shard.Slot("market")), 1)
}

func checkCh05(t *testing.T, out string) {
	t.Helper()
	contains := func(s string) {
		t.Helper()
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}
	// ch05: the switch, the old client closed, typed errors, the password masked.
	matches(t, out, `switched after \d+ calls and .*, none failed`, 1)
	contains("old client after the switch: " + redis.ErrClosed.Error())
	contains("(ErrBadConfig: true)")
	contains("(ErrNoConfig: true)")
	contains(`"password":"*****"`)
}

func checkCh09(t *testing.T, out string) {
	t.Helper()
	// ch09: the unique count, the shards under their limits, memory per element measured.
	unique9 := distinctVisitors(t, tour.Sessions(ch09Visits))
	for _, m := range matches(t, out, `(\d+) visits, (\d+) unique \(count_visit said new (\d+) times\)`, 1) {
		if m[1] != ch09Visits || m[2] != unique9 || m[3] != unique9 {
			t.Errorf("ch09: %d visits, %d unique, %d new; want %d, %d, %d", m[1], m[2], m[3], ch09Visits, unique9, unique9)
		}
	}
	for _, m := range matches(t, out, `names \(HASH\): (\d+) elements in (\d+) shards, (\d+) to (\d+) per shard \(limit: hash-max-listpack-entries (\d+)\)`, 1) {
		if m[1] != ch09Users || m[2] > int64(shard.Shards(ch09Users, ch09ShardSize)) || m[4] > m[5] {
			t.Errorf("ch09 names: %d elements in %d shards, largest %d, limit %d", m[1], m[2], m[4], m[5])
		}
	}
	for _, m := range matches(t, out, `visitors \(SET\): (\d+) elements in (\d+) shards, (\d+) to (\d+) per shard \(limit: set-max-intset-entries (\d+)\)`, 1) {
		if m[1] != unique9 || m[4] > m[5] {
			t.Errorf("ch09 visitors: %d elements (want %d), largest shard %d, limit %d", m[1], unique9, m[4], m[5])
		}
	}
	sharded := regexp.MustCompile(`sharded: \d+ bytes, ([\d.]+) per element, encodings map\[(\w+):\d+\]\n +one key: \d+ bytes, ([\d.]+) per element`).FindAllStringSubmatch(out, -1)
	if len(sharded) != 2 {
		t.Errorf("ch09 measured memory per element for %d structures; want 2", len(sharded))
	}
	for i, m := range sharded {
		if want := []string{"listpack", "intset"}[i]; m[2] != want {
			t.Errorf("ch09 shards encoded %s; want only %s", m[2], want)
		}
		small, _ := strconv.ParseFloat(m[1], 64)
		big, _ := strconv.ParseFloat(m[3], 64)
		if !(small > 0 && small < big) {
			t.Errorf("ch09: %v bytes per element sharded, %v in one key; want sharded smaller", small, big)
		}
	}
	if !strings.Contains(out, "every shard stays under its limit, so Redis keeps it in the compact encoding") {
		t.Error("ch09 does not say every shard stays under its limit")
	}
}

func checkCh10(t *testing.T, out string) {
	t.Helper()
	// ch10: the INCRed count is the recount is the number of distinct visitors.
	unique10 := distinctVisitors(t, tour.Sessions(ch10Visits))
	for _, m := range matches(t, out, `unique visitors: (\d+) \(INCRed count\), (\d+) \(SCARD`, 1) {
		if m[1] != unique10 || m[2] != unique10 {
			t.Errorf("ch10: count %d, recount %d; want %d", m[1], m[2], unique10)
		}
	}
	// Per server; "=k" is a server sharing server k's database, whose ids are counted at k.
	if m := regexp.MustCompile(`visitor ids per server: ([\d =]+)\n`).FindStringSubmatch(out); m == nil {
		t.Error("ch10 printed no per-server counts")
	} else {
		f := strings.Fields(m[1])
		var sum int64
		for i, s := range f {
			if k, ok := strings.CutPrefix(s, "="); ok {
				if j, err := strconv.Atoi(k); err != nil || j >= i || strings.HasPrefix(f[j], "=") {
					t.Errorf("ch10: server %d shares %q, not an earlier server with its own count", i, s)
				}
				continue
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Errorf("ch10: server %d holds %q ids", i, s)
			}
			sum += n
		}
		if len(f) != uniquevisits.Shards || sum != unique10 {
			t.Errorf("ch10: %d servers holding %d ids; want %d holding %d", len(f), sum, uniquevisits.Shards, unique10)
		}
	}
	matches(t, out, `estimate \d+ for \d+ exact`, 1)
	checkWeek(t, out)
	checkVisitLogs(t, out)
}

// checkWeek checks ch10's bulk call, the week in three variants and the bitmap against the visits
// recomputed here from the week's data.
func checkWeek(t *testing.T, out string) {
	t.Helper()
	pool, days := ch10.WeekVisitors()
	distinct := func(from, to int) int64 {
		users := map[int]bool{}
		for _, day := range days[from : to+1] {
			for _, u := range day {
				users[u] = true
			}
		}
		return int64(len(users))
	}
	if got := distinctVisitors(t, pool); got != int64(len(pool)) {
		t.Fatalf("the week's pool holds %d visitor ids for %d users", got, len(pool))
	}
	monday, week := distinct(0, 0), distinct(0, 6)
	for _, m := range matches(t, out, `Monday: one CountVisits of (\d+) ids: (\d+) new, (\d+) repeats, (\d+) malformed`, 1) {
		n := int64(len(days[0]))
		if m[1] != n+2 || m[2] != monday || m[3] != n-monday || m[4] != 2 {
			t.Errorf("bulk call: %d ids, %d new, %d repeats, %d malformed; want %d, %d, %d, 2", m[1], m[2], m[3], m[4], n+2, monday, n-monday)
		}
	}
	for _, m := range matches(t, out, `sets \(SSCAN union of the days' shards\): (\d+)\n`, 1) {
		if m[1] != week {
			t.Errorf("week in sets: %d; want %d", m[1], week)
		}
	}
	for _, m := range matches(t, out, `bitmap \(BITOP OR of the days, BITCOUNT\): (\d+)\n`, 1) {
		if m[1] != week {
			t.Errorf("week in bitmaps: %d; want %d", m[1], week)
		}
	}
	// The tests run with redis-server, so the HyperLogLog week is always a real PFCOUNT.
	for _, m := range matches(t, out, `HyperLogLog \(PFCOUNT of the 7 days\): (\d+), `, 1) {
		if d := m[1] - week; d*50 > week || -d*50 > week { // 2%: well over 0.81%'s standard error
			t.Errorf("week in HyperLogLog: %d; want within 2%% of %d", m[1], week)
		}
	}
	for _, m := range matches(t, out, `Monday: (\d+) users; Tuesday to Thursday: (\d+) users`, 1) {
		if m[1] != monday || m[2] != distinct(1, 3) {
			t.Errorf("bitmap: Monday %d, Tuesday to Thursday %d; want %d, %d", m[1], m[2], monday, distinct(1, 3))
		}
	}
	matches(t, out, `user id 1000: uniquevisits: user id out of range`, 1)
}

// checkVisitLogs checks ch10's access logs: count == Recount == distinct visitors, the replay
// counting no one twice.
func checkVisitLogs(t *testing.T, out string) {
	t.Helper()
	unique := distinctVisitors(t, tour.Sessions(logVisits))
	matches(t, out, fmt.Sprintf(`wrote %d access-log lines in 3 files: %d with a session id, %d with a malformed one`,
		logVisits+logBadLines, logVisits, logBadLines), 1)
	first := matches(t, out, `stopped after (\d+) committed lines: (\d+) new visitors, (\d+) repeats, (\d+) malformed`, 1)
	for _, m := range matches(t, out, `replayed (\d+) ids of the last committed batch: (\d+) new`, 1) {
		if m[1] == 0 || m[2] != 0 {
			t.Errorf("replay of %d ids counted %d new; want some ids, none new", m[1], m[2])
		}
	}
	rest := matches(t, out, `then (\d+) more lines: (\d+) new visitors, (\d+) repeats, (\d+) malformed`, 1)
	if len(first) == 1 && len(rest) == 1 {
		a, b := first[0], rest[0]
		if a[1]+b[1] != logVisits+logBadLines || a[2]+b[2] != unique || a[4]+b[4] != logBadLines || a[1] != a[2]+a[3]+a[4] {
			t.Errorf("logs: lines %d+%d, new %d+%d, malformed %d+%d; want %d lines, %d new, %d malformed",
				a[1], b[1], a[2], b[2], a[4], b[4], logVisits+logBadLines, unique, logBadLines)
		}
	}
	for _, m := range matches(t, out, `visitors on 2024-03-01: (\d+) \(INCRed count\), (\d+) \(Recount\)`, 1) {
		if m[1] != unique || m[2] != unique {
			t.Errorf("logs: count %d, Recount %d; want %d", m[1], m[2], unique)
		}
	}
}
