package acltest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

// readmeRules reads the rule sets from the README's table between the acl markers:
// | pattern | `rules` |
func readmeRules(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start, end := strings.Index(s, "<!-- acl:start -->"), strings.Index(s, "<!-- acl:end -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no <!-- acl:start --> ... <!-- acl:end --> section")
	}
	row := regexp.MustCompile("(?m)^\\| ([^|`]+?) \\| `([^`]+)` \\|")
	rules := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(s[start:end], -1) {
		// A | inside a table cell is written \| (config\|set); the rule is config|set.
		rules[strings.TrimSpace(m[1])] = strings.ReplaceAll(m[2], `\|`, "|")
	}
	return rules
}

// Every README row has a scenario and every scenario a README row: a rule set nobody runs is not
// proven, and a pattern without published rules is not least privilege.
func TestREADMERowsMatchScenarios(t *testing.T) {
	rules := readmeRules(t)
	if len(rules) == 0 {
		t.Fatal("no rows read from the README's ACL table")
	}
	have := map[string]bool{}
	for _, sc := range scenarios {
		if have[sc.pattern] {
			t.Errorf("two scenarios for %q", sc.pattern)
		}
		have[sc.pattern] = true
		if _, ok := rules[sc.pattern]; !ok {
			t.Errorf("scenario %q has no row in the README's ACL table", sc.pattern)
		}
	}
	for pattern := range rules {
		if !have[pattern] {
			t.Errorf("README row %q has no scenario in internal/acltest", pattern)
		}
	}
}

const password = "acl-test-pw"

// TestPatternsAsLeastPrivilegeUsers runs each pattern as a user holding exactly the README's rules:
// the rules must be enough (no error, and no refusal in any server's ACL LOG, even one the library
// swallowed), every command they grant must be used (run with calls > 0), and every key pattern
// they grant must be needed (the pattern, rerun on a fresh server without it, is refused).
func TestPatternsAsLeastPrivilegeUsers(t *testing.T) {
	rules := readmeRules(t)
	discover := os.Getenv("ACL_DISCOVER") != ""
	for _, sc := range scenarios {
		t.Run(sc.pattern, func(t *testing.T) {
			rule, ok := rules[sc.pattern]
			if discover {
				rule = "~* &* +@all"
			} else if !ok {
				t.Fatalf("README names no ACL rules for %q", sc.pattern)
			}
			for _, f := range strings.Fields(rule) {
				// A category cannot be checked for minimality (it grants commands the pattern may
				// never send); rules name each command.
				if !discover && (slices.Contains([]string{"~*", "%R~*", "%W~*", "%RW~*", "allkeys", "allcommands", "allchannels", "&*"}, f) ||
					strings.HasPrefix(f, "+@")) {
					t.Fatalf("rules for %q grant %s: not least privilege", sc.pattern, f)
				}
			}
			used, denied, err := runScenario(t, sc, rule)
			if err != nil {
				t.Fatalf("%s as its ACL user (%s): %v", sc.pattern, rule, err)
			}
			// A refusal the library swallowed (a PING it ignores, a fallback it takes) leaves the
			// scenario's error nil but an entry in the ACL LOG: the rules were not enough.
			for _, d := range denied {
				t.Errorf("%s as its ACL user (%s): refused %s", sc.pattern, rule, d)
			}
			if discover {
				t.Logf("%s used: %s", sc.pattern, strings.Join(used, " "))
				return
			}
			for _, f := range strings.Fields(rule) {
				if cmd, ok := strings.CutPrefix(f, "+"); ok && !slices.Contains(used, cmd) {
					t.Errorf("rules for %q grant %s, which the pattern never sent", sc.pattern, cmd)
				}
			}
			// Each key pattern is needed: without it, the same run is refused.
			for _, f := range strings.Fields(rule) {
				if !strings.HasPrefix(f, "~") {
					continue
				}
				without := strings.Join(slices.DeleteFunc(strings.Fields(rule), func(g string) bool { return g == f }), " ")
				// The ACL LOG is not checked here: refusals are what this run expects.
				_, _, err := runScenario(t, sc, without)
				// Refused: NOPERM, or EXECABORT when the refused command was queued in a MULTI.
				if err == nil || !strings.Contains(err.Error(), "NOPERM") && !strings.Contains(err.Error(), "EXECABORT") {
					t.Errorf("rules for %q grant %s, but the pattern runs without it (%v)", sc.pattern, f, err)
					continue
				}
				t.Logf("without %s: refused (%v)", f, err)
			}
		})
	}
}

// runScenario runs sc on fresh servers whose user "ria" holds rule, and returns the commands the
// servers ran for it (see usedCommands), the refusals the servers' ACL LOGs recorded during the run
// (see deniedEntries), and the scenario's error.
func runScenario(t *testing.T, sc scenario, rule string) ([]string, []string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := &scenarioEnv{dir: t.TempDir()}
	user := []string{"user ria on >" + password + " resetkeys resetchannels -@all " + rule}
	var servers []*redistest.Server // every server the pattern talks to
	switch {
	case strings.HasPrefix(sc.pattern, "sync") || strings.Contains(sc.pattern, "durable"): // WAIT needs a replica
		rep := redistest.RunReplicatedT(t, &redistest.Options{Config: user})
		e.server, e.replica = rep.Master, rep.Replica
		servers = []*redistest.Server{rep.Master, rep.Replica}
	case strings.Contains(sc.pattern, "Redis Cluster"):
		e.cluster = redistest.RunClusterT(t, &redistest.ClusterOptions{Masters: 3, ReplicasPerMaster: -1,
			Server: redistest.Options{Config: user}})
		e.server = e.cluster.Nodes[0]
		servers = e.cluster.Nodes
		e.clusterUser = func() *redis.ClusterClient {
			o := e.cluster.ClusterOptions()
			o.Username, o.Password = "ria", password
			c := redis.NewClusterClient(o)
			t.Cleanup(func() { c.Close() })
			return c
		}
	default:
		e.server = redistest.RunT(t, &redistest.Options{Config: user})
		servers = []*redistest.Server{e.server}
	}
	e.admin = e.server.Client(t)
	e.user = func(s *redistest.Server) redis.UniversalClient {
		o := s.Options()
		o.Username, o.Password = "ria", password
		c := redis.NewClient(o)
		t.Cleanup(func() { c.Close() })
		return c
	}
	e.registry = func(c redis.Cmdable) *conn.Registry {
		reg, err := conn.New(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return reg
	}
	if sc.setup != nil {
		if err := sc.setup(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Reset on every server the pattern talks to, so set-up (WaitLinkUp's INFO on the replica, say)
	// does not count as the pattern's use, and its refusals (none expected) are not the pattern's.
	for _, s := range servers {
		c := s.Client(t)
		if err := c.ACLLogReset(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	err := sc.run(ctx, e)
	var used, denied []string
	for _, s := range servers {
		c := s.Client(t)
		used = append(used, usedCommands(ctx, t, c)...)
		denied = append(denied, deniedEntries(ctx, t, c, s.Addr())...)
	}
	slices.Sort(used)
	return slices.Compact(used), denied, err
}

// deniedEntries lists the server's ACL LOG since ACL LOG RESET: every command, key or channel the
// server refused a user (NOPERM), and every failed AUTH, whether or not the library returned the
// error to the scenario.
func deniedEntries(ctx context.Context, t *testing.T, c *redis.Client, addr string) []string {
	t.Helper()
	entries, err := c.ACLLog(ctx, 1000).Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		// Reason is what was refused: "command", "key", "channel" or "auth"; Object names it.
		out = append(out, fmt.Sprintf("%s %q (context %s, user %q, %d times) on %s",
			e.Reason, e.Object, e.Context, e.Username, e.Count, addr))
	}
	return out
}

// usedCommands lists the commands the server ran since CONFIG RESETSTAT (subcommands as cmd|sub):
// those with calls > 0. INFO commandstats lists a command the ACL rejected too (calls=0,
// rejected_calls > 0), and a rejected command was not used.
func usedCommands(ctx context.Context, t *testing.T, c *redis.Client) []string {
	t.Helper()
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(info, "\r\n") {
		name, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, stats, _ := strings.Cut(name, ":")
		calls := -1
		for _, f := range strings.Split(stats, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("INFO commandstats: %q", line)
				}
				calls = n
			}
		}
		if calls < 0 {
			t.Fatalf("INFO commandstats: no calls in %q", line)
		}
		if calls > 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
