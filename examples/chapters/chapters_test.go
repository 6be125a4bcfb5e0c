package chapters

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/uniquevisits"
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

// checkTour checks the headings of every chapter and the key results of each, computed here
// independently where they are numbers.
func checkTour(t *testing.T, out string) {
	t.Helper()
	for _, c := range All() {
		if !strings.Contains(out, "== "+c.Name+": "+c.Title) {
			t.Errorf("the tour did not run %s (%s)", c.Name, c.Title)
		}
	}
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
	matches(t, out, `D: role:slave, link up true, 1011 keys`, 1)

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

	// ch04 tokens: viewed:<token> trimmed to 25.
	contains("viewed:a81c04 holds 25, oldest Item06, latest ItemM")

	// ch05: the switch, the old client closed, typed errors, the password masked.
	matches(t, out, `switched after \d+ calls and .*, none failed`, 1)
	contains("old client after the switch: " + redis.ErrClosed.Error())
	contains("(ErrBadConfig: true)")
	contains("(ErrNoConfig: true)")
	contains(`"password":"*****"`)
	if strings.Contains(out, "s3cret") {
		t.Error("the tour printed a password")
	}

	// ch09: the unique count, the shards under their limits, memory per element measured.
	unique9 := distinctVisitors(t, ch09Sessions(ch09Visits))
	for _, m := range matches(t, out, `(\d+) visits, (\d+) unique \(count_visit said new (\d+) times\)`, 1) {
		if m[1] != ch09Visits || m[2] != unique9 || m[3] != unique9 {
			t.Errorf("ch09: %d visits, %d unique, %d new; want %d, %d, %d", m[1], m[2], m[3], ch09Visits, unique9, unique9)
		}
	}
	for _, m := range matches(t, out, `names \(HASH\): (\d+) elements in (\d+) shards, (\d+) to (\d+) per shard \(limit: hash-max-listpack-entries (\d+)\)`, 1) {
		if m[1] != ch09Users || m[2] > int64(shard.Shards(ch09Users, ch09HashShardSize)) || m[4] > m[5] {
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
	contains("every shard stays under its limit, so Redis keeps it in the compact encoding")

	// ch10: the INCRed count is the recount is the number of distinct visitors.
	unique10 := distinctVisitors(t, ch09Sessions(ch10Visits))
	for _, m := range matches(t, out, `unique visitors: (\d+) \(INCRed count\), (\d+) \(SCARD`, 1) {
		if m[1] != unique10 || m[2] != unique10 {
			t.Errorf("ch10: count %d, recount %d; want %d", m[1], m[2], unique10)
		}
	}
	if m := regexp.MustCompile(`visitor ids per server: ([\d ]+)\n`).FindStringSubmatch(out); m == nil {
		t.Error("ch10 printed no per-server counts")
	} else {
		f := strings.Fields(m[1])
		var sum int64
		for _, s := range f {
			n, _ := strconv.ParseInt(s, 10, 64)
			sum += n
		}
		if len(f) != uniquevisits.Shards || sum != unique10 {
			t.Errorf("ch10: %d servers holding %d ids; want %d holding %d", len(f), sum, uniquevisits.Shards, unique10)
		}
	}
	matches(t, out, `estimate \d+ for \d+ exact`, 1)

	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// The tour's default: every chapter on embedded miniredis servers, and the parts miniredis cannot do
// on servers started with redistest.
func TestTourEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, runOptions{strict: true}); err != nil {
		t.Fatalf("tour: %v\noutput:\n%s", err, out.String())
	}
	checkTour(t, out.String())
}

// The tour on real servers given by address, as with -addr or RIA_REDIS_ADDR.
func TestTourRealServers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	servers := redistest.RunShardsT(t, 2, nil)
	var out bytes.Buffer
	if err := run(ctx, &out, runOptions{addr: strings.Join(servers.Addrs(), ","), strict: true}); err != nil {
		t.Fatalf("tour: %v\noutput:\n%s", err, out.String())
	}
	checkTour(t, out.String())
}

// Without redis-server (RIA_REDIS_SERVER names a missing binary), a strict run fails with
// ErrNotInstalled, and a user's run prints how to install it and goes on.
func TestTourWithoutRedisServer(t *testing.T) {
	t.Setenv("RIA_REDIS_SERVER", t.TempDir()+"/no-redis-server")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, strict := range []bool{true, false} {
		var out bytes.Buffer
		env, err := newEnv(&out, runOptions{strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		defer env.close()
		if env.CanStartServers() {
			t.Fatal("CanStartServers ignores RIA_REDIS_SERVER")
		}
		for _, part := range []struct {
			name, notice string
			run          func(context.Context, *Env) error
		}{
			{"sync", "this part (replication, wait_for_sync and failover) needs redis-server", syncRun},
			{"ch09", "this part (measuring memory per element: miniredis has no MEMORY USAGE) needs redis-server", runShardedStructures},
		} {
			out.Reset()
			err := part.run(ctx, env)
			if strict {
				if !errors.Is(err, redistest.ErrNotInstalled) {
					t.Errorf("strict %s without redis-server: %v; want ErrNotInstalled", part.name, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s without redis-server: %v; want a notice", part.name, err)
			}
			if s := out.String(); !strings.Contains(s, part.notice) || !strings.Contains(s, "RIA_REDIS_SERVER") {
				t.Errorf("%s: notice without redis-server: %q", part.name, s)
			}
		}
		// Without a server to measure on, ch09 still shows the shards against Redis 7's defaults.
		if !strict && !strings.Contains(out.String(), "names (HASH): 10000 elements") {
			t.Errorf("ch09 without redis-server shows no shard layout:\n%s", out.String())
		}
	}
}

func TestCanStartServers(t *testing.T) {
	env := &Env{}
	if !env.CanStartServers() {
		t.Fatalf("CanStartServers: false, but the tests need redis-server: %v", redistest.Installed())
	}
}

// The config client honours ctx deadlines on reads, as the registry's clients do.
func TestConfigClientContextTimeout(t *testing.T) {
	s := redistest.RunT(t, nil)
	for _, addr := range []string{"", s.Addr()} {
		env, err := newEnv(&bytes.Buffer{}, runOptions{addr: addr})
		if err != nil {
			t.Fatal(err)
		}
		defer env.close()
		c, ok := env.Config.(*redis.Client)
		if !ok {
			t.Fatalf("config client is %T", env.Config)
		}
		if !c.Options().ContextTimeoutEnabled {
			t.Errorf("addr %q: the config client has ContextTimeoutEnabled false", addr)
		}
	}
}

func TestTourRefusesNonEmptyDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := redistest.RunT(t, nil)
	o := s.Options()
	o.DB = 1
	db1 := redis.NewClient(o)
	defer db1.Close()
	if err := db1.Set(ctx, "precious", "data", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(ctx, &out, runOptions{addr: s.Addr(), only: "ch05"})
	if err == nil || !strings.Contains(err.Error(), "-flush") {
		t.Fatalf("tour on a non-empty database: %v; want a refusal mentioning -flush", err)
	}
	if got, _ := db1.Get(ctx, "precious").Result(); got != "data" {
		t.Fatal("the tour touched a non-empty database")
	}
}

func TestTourUnknownChapter(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, runOptions{only: "ch99"}); err == nil {
		t.Fatal("running an unknown chapter succeeded")
	}
}

// A WATCH market that gives up at once loses to contention often in the race: each loss is counted,
// the buyer tries again, and money and items are still conserved.
func TestMarketRaceCountsContention(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	env, err := newEnv(&out, runOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.close()
	cfg, err := env.Server(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Registry.SetConfig(ctx, "market", cfg); err != nil {
		t.Fatal(err)
	}
	impatient := market.NewWatch(&market.Options{PurchaseTimeout: time.Nanosecond})
	if err := marketRace(ctx, env, env.Registry, "impatient", impatient); err != nil {
		t.Fatalf("race: %v\n%s", err, out.String())
	}
	m := matches(t, out.String(), `impatient: +(\d+) bought in .*, (\d+) gave up under contention\n +funds conserved \((\d+)\)`, 1)
	if len(m) == 1 {
		if m[0][1] != marketItems || m[0][3] != marketBuyers*marketFunds {
			t.Errorf("bought %d, funds %d; want %d, %d\n%s", m[0][1], m[0][3], marketItems, marketBuyers*marketFunds, out.String())
		}
		t.Logf("%d purchases gave up under contention", m[0][2])
	}
}

// On a server whose hash-max-listpack-entries is below the largest shard, ch09 says so and does not
// claim the compact encoding.
func TestShardOverLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := redistest.RunT(t, &redistest.Options{Config: []string{"hash-max-listpack-entries 32"}})
	var out bytes.Buffer
	if err := run(ctx, &out, runOptions{addr: s.Addr(), only: "ch09", strict: true}); err != nil {
		t.Fatalf("ch09: %v\n%s", err, out.String())
	}
	o := out.String()
	m := matches(t, o, `names \(HASH\): \d+ elements in \d+ shards, \d+ to (\d+) per shard \(limit: hash-max-listpack-entries 32\)\n +the largest shard holds (\d+), over the limit 32`, 1)
	if len(m) == 1 && m[0][1] != m[0][2] {
		t.Errorf("largest shard %d, then %d", m[0][1], m[0][2])
	}
	if strings.Contains(o, "every shard stays under its limit") {
		t.Errorf("ch09 claims every shard is under a limit some exceed:\n%s", o)
	}
}
