package conn_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
)

func Example() {
	ctx := context.Background()
	configServer, dataServer := miniredis.NewMiniRedis(), miniredis.NewMiniRedis()
	configServer.Start()
	dataServer.Start()
	defer configServer.Close()
	defer dataServer.Close()

	// ContextTimeoutEnabled lets a caller's deadline and RefreshTimeout bound the config reads.
	cfg := redis.NewClient(&redis.Options{Addr: configServer.Addr(), ContextTimeoutEnabled: true})
	defer cfg.Close()
	reg, err := conn.New(cfg, nil)
	if err != nil {
		panic(err)
	}
	defer reg.Close()

	// The book's set_config: the JSON stays in redis-py's keyword form.
	host, port, _ := net.SplitHostPort(dataServer.Addr())
	if err := reg.SetConfig(ctx, "logs", fmt.Sprintf(`{"host": %q, "port": %s, "db": 0}`, host, port)); err != nil {
		panic(err)
	}
	// The book's redis_connection decorator: the wrapped function gets the component's client.
	logLine := conn.Wrap1(reg, "logs", func(ctx context.Context, c redis.Cmdable, line string) (int64, error) {
		return c.RPush(ctx, "recent:log", line).Result()
	})
	n, err := logLine(ctx, "hello")
	fmt.Println(n, err)

	_, err = reg.Client(ctx, "search")
	fmt.Println(err)
	// Output:
	// 1 <nil>
	// conn: config:redis:search: no config stored
}

func ExampleParseConfig() {
	cfg, err := conn.ParseConfig([]byte(`{"host": "10.0.0.5", "port": 6380, "password": "s3cret", "socket_timeout": 0.5}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg) // the password is masked in every format
	_, err = conn.ParseConfig([]byte(`{"host": "10.0.0.5", "port": "6380"}`))
	fmt.Println(err)
	// Output:
	// {"addr":"10.0.0.5:6380","kind":"single","network":"tcp","password":"*****","read_timeout":"500ms","write_timeout":"500ms"}
	// conn: field "port": bad config: must be an integer: got a JSON string
}

// servers starts a config server and n data servers on miniredis, and a registry on the first.
func servers(n int, opt *conn.Options) (*conn.Registry, []*miniredis.Miniredis, func()) {
	configServer := miniredis.NewMiniRedis()
	if err := configServer.Start(); err != nil {
		panic(err)
	}
	cfg := redis.NewClient(&redis.Options{Addr: configServer.Addr(), ContextTimeoutEnabled: true})
	reg, err := conn.New(cfg, opt)
	if err != nil {
		panic(err)
	}
	data := make([]*miniredis.Miniredis, n)
	for i := range data {
		data[i] = miniredis.NewMiniRedis()
		if err := data[i].Start(); err != nil {
			panic(err)
		}
	}
	return reg, data, func() {
		reg.Close()
		cfg.Close()
		configServer.Close()
		for _, m := range data {
			m.Close()
		}
	}
}

// commandCounter is a go-redis hook that counts the commands a client sends, as a metrics hook would.
type commandCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *commandCounter) add(cmds ...redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cmd := range cmds {
		c.n[cmd.Name()]++
	}
}

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add(cmd)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.add(cmds...)
		return next(ctx, cmds)
	}
}

// An Options.NewClient hook builds each client from the options conn would use (TLS, Sentinel and
// retries already set) and adds a go-redis hook to every client the registry makes.
func ExampleConfig_Options() {
	ctx := context.Background()
	metrics := &commandCounter{n: map[string]int{}}
	reg, data, stop := servers(1, &conn.Options{
		NewClient: func(component string, cfg *conn.Config) (redis.UniversalClient, error) {
			// The Options methods refuse insecure TLS as NewClient does; a registry with
			// AllowInsecureTLS would call the AllowInsecure forms.
			var client redis.UniversalClient
			switch cfg.Kind {
			case conn.KindCluster:
				o, err := cfg.ClusterOptions()
				if err != nil {
					return nil, err
				}
				client = redis.NewClusterClient(o)
			case conn.KindSentinel:
				o, err := cfg.FailoverOptions()
				if err != nil {
					return nil, err
				}
				client = redis.NewFailoverClient(o)
			default:
				o, err := cfg.Options()
				if err != nil {
					return nil, err
				}
				client = redis.NewClient(o)
			}
			client.AddHook(metrics)
			return client, nil
		},
	})
	defer stop()

	if err := reg.SetConfig(ctx, "logs", map[string]any{"addr": data[0].Addr()}); err != nil {
		panic(err)
	}
	logLine := conn.Wrap1(reg, "logs", func(ctx context.Context, c redis.Cmdable, line string) (int64, error) {
		return c.RPush(ctx, "recent:log", line).Result()
	})
	for _, line := range []string{"a", "b", "c"} {
		if _, err := logLine(ctx, line); err != nil {
			panic(err)
		}
	}
	fmt.Println("rpush sent:", metrics.n["rpush"])
	// Output:
	// rpush sent: 3
}

// A call holding a client keeps it across a config change: it finishes on the old server while new
// calls get the new one, and the old client closes when the last holder releases it.
func ExampleRegistry_Acquire() {
	ctx := context.Background()
	reg, data, stop := servers(2, nil)
	defer stop()
	oldServer, newServer := data[0], data[1]

	if err := reg.SetConfig(ctx, "logs", map[string]any{"addr": oldServer.Addr()}); err != nil {
		panic(err)
	}
	held, release, err := reg.Acquire(ctx, "logs")
	if err != nil {
		panic(err)
	}

	// The registry serves this component, so SetConfig switches it now.
	if err := reg.SetConfig(ctx, "logs", map[string]any{"addr": newServer.Addr()}); err != nil {
		panic(err)
	}
	if err := reg.Do(ctx, "logs", func(c redis.UniversalClient) error {
		return c.Set(ctx, "who", "new call", 0).Err()
	}); err != nil {
		panic(err)
	}
	// The call that acquired before the change still runs on the old server.
	if err := held.Set(ctx, "who", "held call", 0).Err(); err != nil {
		panic(err)
	}
	release()
	err = held.Ping(ctx).Err()

	old, _ := oldServer.Get("who")
	cur, _ := newServer.Get("who")
	fmt.Println("old server:", old)
	fmt.Println("new server:", cur)
	fmt.Println("old client closed after release:", errors.Is(err, redis.ErrClosed))
	// Output:
	// old server: held call
	// new server: new call
	// old client closed after release: true
}

// A tool that needs a client of its own for a component (a subscriber, a long SCAN) builds it from
// the config the registry serves, with the options conn would use.
func ExampleConfig_ClusterOptions() {
	ctx := context.Background()
	reg, data, stop := servers(1, nil)
	defer stop()
	// On a Redis Cluster the stored config is {"cluster": ["h1:7000", "h2:7000"]}: Kind is then
	// KindCluster and the first case runs, on a *redis.ClusterClient that reads from replicas. On
	// miniredis the component is a single server, so the same code takes the default case.
	if err := reg.SetConfig(ctx, "search", map[string]any{"addr": data[0].Addr(), "pool_size": 4}); err != nil {
		panic(err)
	}
	if err := reg.Refresh(ctx, "search"); err != nil { // load it, so Config has it
		panic(err)
	}
	cfg := reg.Config("search")

	var scanner redis.UniversalClient
	switch cfg.Kind {
	case conn.KindCluster:
		o, err := cfg.ClusterOptions()
		if err != nil {
			panic(err)
		}
		o.ReadOnly = true // this tool only reads
		scanner = redis.NewClusterClient(o)
	default:
		o, err := cfg.Options()
		if err != nil {
			panic(err)
		}
		scanner = redis.NewClient(o)
	}
	defer scanner.Close() // this client is the tool's own: the registry does not close it

	data[0].Set("idx:b", "2")
	data[0].Set("idx:a", "1")
	keys, err := scanner.Keys(ctx, "idx:*").Result()
	if err != nil {
		panic(err)
	}
	sort.Strings(keys)
	_, clusterErr := cfg.ClusterOptions()
	fmt.Println(cfg.Kind, strings.Join(keys, " "))
	fmt.Println(clusterErr)
	// Output:
	// single idx:a idx:b
	// conn: config is of another kind: the config is single; ClusterOptions makes a cluster config's options
}
