package hostset

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// hostPart is the share of a split command that goes to one host.
type hostPart struct {
	host int
	args []any // the command name, then this host's keys (each followed by its value, for MSET)
	pos  []int // each of those keys' index among the command's keys
	cmd  redis.Cmder
}

// split breaks a multi-key MGET, MSET, DEL, UNLINK, EXISTS or TOUCH into one command per host, and
// returns the function that puts the results back into cmd once they have run. ok is false for a
// command it does not split; a command with a key the router refuses is failed as a whole (ok, and
// no part to send).
func (c *core) split(ctx context.Context, cmd redis.Cmder) (parts map[int]redis.Cmder, merge func(), ok bool) {
	args := cmd.Args()
	if len(args) < 3 {
		return nil, nil, false
	}
	stride := 1 // arguments per key: the key, and for MSET its value
	var newCmd func(args ...any) redis.Cmder
	var join func([]*hostPart)
	switch name := strings.ToLower(argString(args[0])); name {
	case "mget":
		sc, ok := cmd.(*redis.SliceCmd)
		if !ok {
			return nil, nil, false
		}
		newCmd = func(args ...any) redis.Cmder { return redis.NewSliceCmd(ctx, args...) }
		join = func(hps []*hostPart) {
			vals := make([]any, len(args)-1)
			for _, hp := range hps {
				v, err := hp.cmd.(*redis.SliceCmd).Result()
				if err != nil {
					sc.SetErr(err)
					return
				}
				for j, pos := range hp.pos {
					if j < len(v) {
						vals[pos] = v[j]
					}
				}
			}
			sc.SetVal(vals)
		}
	case "mset":
		sc, ok := cmd.(*redis.StatusCmd)
		if !ok || len(args) < 5 || len(args)%2 == 0 {
			return nil, nil, false
		}
		stride = 2
		newCmd = func(args ...any) redis.Cmder { return redis.NewStatusCmd(ctx, args...) }
		join = func(hps []*hostPart) {
			for _, hp := range hps {
				if err := hp.cmd.Err(); err != nil {
					sc.SetErr(err)
					return
				}
			}
			sc.SetVal("OK")
		}
	case "del", "unlink", "exists", "touch":
		ic, ok := cmd.(*redis.IntCmd)
		if !ok {
			return nil, nil, false
		}
		newCmd = func(args ...any) redis.Cmder { return redis.NewIntCmd(ctx, args...) }
		join = func(hps []*hostPart) {
			var sum int64
			for _, hp := range hps {
				n, err := hp.cmd.(*redis.IntCmd).Result()
				if err != nil {
					ic.SetErr(err)
					return
				}
				sum += n
			}
			ic.SetVal(sum)
		}
	default:
		return nil, nil, false
	}
	hps, err := c.byHost(cmd, stride)
	if err != nil {
		cmd.SetErr(err)
		return nil, func() {}, true // refused as a whole: no part is sent
	}
	parts = make(map[int]redis.Cmder, len(hps))
	for _, hp := range hps {
		hp.cmd = newCmd(hp.args...)
		parts[hp.host] = hp.cmd
	}
	return parts, func() { join(hps) }, true
}

// byHost groups cmd's keys by host, in the order the hosts first appear. The keys start at the
// second argument and come every stride arguments, each followed by stride-1 arguments of its own.
// Each part's arguments begin with the lower-case command name.
func (c *core) byHost(cmd redis.Cmder, stride int) ([]*hostPart, error) {
	args := cmd.Args()
	name := strings.ToLower(argString(args[0]))
	var hps []*hostPart
	index := map[int]*hostPart{}
	for i := 1; i+stride <= len(args); i += stride {
		id, err := c.hostFor(cmd, argString(args[i]))
		if err != nil {
			return nil, err
		}
		hp := index[id]
		if hp == nil {
			hp = &hostPart{host: id, args: []any{name}}
			index[id] = hp
			hps = append(hps, hp)
		}
		hp.pos = append(hp.pos, (i-1)/stride)
		hp.args = append(hp.args, args[i:i+stride]...)
	}
	return hps, nil
}
