package hostset

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// batchable reports whether cmd can join a batch: a plain GET key, or a plain SET key value with no
// options, made by go-redis's Get and Set (whose result types are known).
func batchable(cmd redis.Cmder) string {
	args := cmd.Args()
	switch cmd.(type) {
	case *redis.StringCmd:
		if len(args) == 2 && strings.EqualFold(argString(args[0]), "get") {
			return "get"
		}
	case *redis.StatusCmd:
		if len(args) == 3 && strings.EqualFold(argString(args[0]), "set") {
			return "set"
		}
	}
	return ""
}

// autoBatch merges runs of consecutive GETs into one MGET and of plain SETs into one MSET, as rb's
// auto_batch_commands does. Each fixup copies a batch's result back to its commands, or, when the
// server refused the batch with a reply error, returns the commands to send again one by one (a
// transport error is the host's and goes to every command). MGET answers nil for a key that holds
// another type where GET would fail with WRONGTYPE, so such a GET gets redis.Nil.
func autoBatch(ctx context.Context, cmds []redis.Cmder) ([]redis.Cmder, []func() []redis.Cmder) {
	var plan []redis.Cmder
	var fixups []func() []redis.Cmder
	for i := 0; i < len(cmds); {
		kind := batchable(cmds[i])
		j := i + 1
		for kind != "" && j < len(cmds) && batchable(cmds[j]) == kind {
			j++
		}
		if kind == "" || j-i == 1 {
			plan = append(plan, cmds[i])
			i = j
			continue
		}
		group := cmds[i:j]
		switch kind {
		case "get":
			args := make([]any, 0, len(group)+1)
			args = append(args, "mget")
			for _, g := range group {
				args = append(args, g.Args()[1])
			}
			m := redis.NewSliceCmd(ctx, args...)
			plan = append(plan, m)
			fixups = append(fixups, func() []redis.Cmder {
				vals, err := m.Result()
				if noretry.IsErrorReply(err) {
					return group
				}
				for k, g := range group {
					sc := g.(*redis.StringCmd)
					switch {
					case err != nil:
						sc.SetErr(err)
					case k >= len(vals) || vals[k] == nil:
						sc.SetErr(redis.Nil)
					default:
						sc.SetVal(replyString(vals[k]))
					}
				}
				return nil
			})
		case "set":
			args := make([]any, 0, 2*len(group)+1)
			args = append(args, "mset")
			for _, g := range group {
				args = append(args, g.Args()[1], g.Args()[2])
			}
			m := redis.NewStatusCmd(ctx, args...)
			plan = append(plan, m)
			fixups = append(fixups, func() []redis.Cmder {
				val, err := m.Result()
				if noretry.IsErrorReply(err) {
					return group
				}
				for _, g := range group {
					sc := g.(*redis.StatusCmd)
					if err != nil {
						sc.SetErr(err)
					} else {
						sc.SetVal(val)
					}
				}
				return nil
			})
		}
		i = j
	}
	return plan, fixups
}

// replyString is an MGET reply value as GET's StringCmd holds it.
func replyString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}
