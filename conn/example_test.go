package conn_test

import (
	"context"
	"fmt"
	"net"

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
	reg := conn.New(cfg, nil)
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
