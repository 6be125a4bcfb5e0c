package acltest

import (
	"context"
	"os"
	"regexp"
	"slices"
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
		rules[strings.TrimSpace(m[1])] = m[2]
	}
	return rules
}

const password = "acl-test-pw"

// TestPatternsAsLeastPrivilegeUsers runs each pattern as a user holding exactly the README's rules:
// the rules must be enough (no NOPERM), and every command they grant must be used (nothing extra).
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
			for _, broad := range []string{"+@all", "~*", "allkeys", "allcommands", "+@dangerous", "+@admin"} {
				if !discover && slices.Contains(strings.Fields(rule), broad) {
					t.Fatalf("rules for %q grant %s: not least privilege", sc.pattern, broad)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			e := &scenarioEnv{dir: t.TempDir()}
			if strings.HasPrefix(sc.pattern, "sync") {
				rep := redistest.RunReplicatedT(t, &redistest.Options{Config: []string{"user ria on >" + password + " resetkeys resetchannels -@all " + rule}})
				e.server, e.replica = rep.Master, rep.Replica
			} else {
				e.server = redistest.RunT(t, &redistest.Options{Config: []string{"user ria on >" + password + " resetkeys resetchannels -@all " + rule}})
			}
			e.admin = e.server.Client(t)
			e.user = func(s *redistest.Server) redis.UniversalClient {
				o := s.Options()
				o.Username, o.Password = "ria", password
				c := redis.NewClient(o)
				t.Cleanup(func() { c.Close() })
				return c
			}
			e.registry = func(c redis.Cmdable) *conn.Registry { return conn.New(c, nil) }
			if sc.setup != nil {
				if err := sc.setup(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.admin.ConfigResetStat(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if err := sc.run(ctx, e); err != nil {
				t.Fatalf("%s as its ACL user (%s): %v", sc.pattern, rule, err)
			}
			used := usedCommands(ctx, t, e.admin)
			if e.replica != nil {
				used = append(used, usedCommands(ctx, t, e.replica.Client(t))...)
			}
			if discover {
				t.Logf("%s used: %s", sc.pattern, strings.Join(used, " "))
				return
			}
			for _, f := range strings.Fields(rule) {
				if cmd, ok := strings.CutPrefix(f, "+"); ok && !strings.HasPrefix(cmd, "@") && !slices.Contains(used, cmd) {
					t.Errorf("rules for %q grant %s, which the pattern never sent", sc.pattern, cmd)
				}
			}
		})
	}
}

// usedCommands lists the commands the server ran since CONFIG RESETSTAT (subcommands as cmd|sub),
// leaving out the admin's own CONFIG and INFO calls and connection set-up.
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
		name = strings.SplitN(name, ":", 2)[0]
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
