package hostset

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
)

// recorder records the commands each host's client sends, as the server would see them.
type recorder struct {
	mu   sync.Mutex
	sent map[int][]string
}

func (r *recorder) names(id int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent[id])
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = map[int][]string{}
}

type recordHook struct {
	r  *recorder
	id int
}

func (h recordHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h recordHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add(cmd)
		return next(ctx, cmd)
	}
}
func (h recordHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.add(c)
		}
		return next(ctx, cmds)
	}
}
func (h recordHook) add(cmd redis.Cmder) {
	if cmd.Name() == "hello" || cmd.Name() == "client" {
		return // connection setup
	}
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	h.r.sent[h.id] = append(h.r.sent[h.id], cmd.Name())
}

// miniHosts starts n miniredis hosts and a Hosts over them whose clients record their commands.
func miniHosts(t *testing.T, n int, opt *Options) (*Hosts, []*miniredis.Miniredis, *recorder) {
	t.Helper()
	var o Options
	if opt != nil {
		o = *opt
	}
	rec := &recorder{sent: map[int][]string{}}
	o.Hosts = map[int]map[string]any{}
	minis := make([]*miniredis.Miniredis, n)
	for i := range minis {
		minis[i] = miniredis.RunT(t)
		o.Hosts[i] = map[string]any{"addr": minis[i].Addr()}
	}
	o.HostDefaults = map[string]any{"dial_timeout": 1}
	o.NewClient = func(id int, cfg *conn.Config) (redis.UniversalClient, error) {
		c, err := cfg.NewClient()
		if err == nil {
			c.AddHook(recordHook{r: rec, id: id})
		}
		return c, err
	}
	hs, err := New(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Close() })
	return hs, minis, rec
}
