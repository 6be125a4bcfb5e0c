package market_test

import (
	"context"
	"errors"
	"net"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn/conntest"
	"github.com/ria-go/ria/market"
)

// variants are the two implementations; every outcome test runs on both.
var variants = []struct {
	name string
	m    market.Market
}{
	{"watch", newWatch(nil)},
	{"script", market.Script{}},
}

// newWatch is market.NewWatch for options a test knows are valid.
func newWatch(opt *market.Options) *market.Watch {
	w, err := market.NewWatch(opt)
	if err != nil {
		panic(err)
	}
	return w
}

// newMini starts a miniredis server and a client on it, both closed when the test ends.
var newMini = conntest.MiniClient

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// setUser writes users:<id> (funds as given, a raw string so tests can store bad values) and
// inventory:<id>.
func setUser(t testing.TB, c redis.Cmdable, id, name, funds string, items ...string) {
	t.Helper()
	ctx := context.Background()
	must(t, c.HSet(ctx, "users:"+id, "name", name).Err())
	if funds != "" {
		must(t, c.HSet(ctx, "users:"+id, "funds", funds).Err())
	}
	if len(items) > 0 {
		must(t, c.SAdd(ctx, "inventory:"+id, items).Err())
	}
}

// dump is every key's content in a comparable form, to check that nothing was written.
func dump(t testing.TB, c redis.Cmdable) string {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Keys(ctx, "*").Result()
	must(t, err)
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		typ, err := c.Type(ctx, k).Result()
		must(t, err)
		b.WriteString(k + " " + typ + ":")
		switch typ {
		case "hash":
			h, err := c.HGetAll(ctx, k).Result()
			must(t, err)
			fields := make([]string, 0, len(h))
			for f, v := range h {
				fields = append(fields, f+"="+v)
			}
			sort.Strings(fields)
			b.WriteString(strings.Join(fields, ","))
		case "set":
			m, err := c.SMembers(ctx, k).Result()
			must(t, err)
			sort.Strings(m)
			b.WriteString(strings.Join(m, ","))
		case "zset":
			zs, err := c.ZRangeWithScores(ctx, k, 0, -1).Result()
			must(t, err)
			for _, z := range zs {
				b.WriteString(z.Member.(string) + "=" + strconv.FormatFloat(z.Score, 'f', -1, 64) + ",")
			}
		case "string":
			s, err := c.Get(ctx, k).Result()
			must(t, err)
			b.WriteString(s)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// lostReply is the error a client sees when the connection drops after the request was sent.
var lostReply = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

// hook is a go-redis hook made of optional functions.
type hook struct {
	process  func(next redis.ProcessHook) redis.ProcessHook
	pipeline func(next redis.ProcessPipelineHook) redis.ProcessPipelineHook
}

func (h hook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	if h.process == nil {
		return next
	}
	return h.process(next)
}
func (h hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	if h.pipeline == nil {
		return next
	}
	return h.pipeline(next)
}

// isExec reports whether cmds is a MULTI/EXEC transaction.
func isExec(cmds []redis.Cmder) bool {
	return len(cmds) > 0 && cmds[0].Name() == "multi"
}

// isScript reports whether cmd runs a script.
func isScript(cmd redis.Cmder) bool {
	return cmd.Name() == "evalsha" || cmd.Name() == "eval"
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v; want %v", err, want)
	}
}
