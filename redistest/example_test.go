package redistest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ria-go/ria/redistest"
)

// Start a server, use it, and close it. In a test, RunT does the same and closes it when the test ends.
func ExampleRun() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := redistest.Run(ctx, nil)
	if err != nil {
		fmt.Println(err) // says how to install redis-server when it is missing
		return
	}
	defer srv.Close()

	c := srv.NewClient()
	defer c.Close()
	fmt.Println(c.Set(ctx, "greeting", "hello", 0).Err())
	fmt.Println(c.Get(ctx, "greeting").Val())
	// Output:
	// <nil>
	// hello
}

// A crash and a restart: SIGKILL loses what was not persisted, here everything (no AOF, no save);
// the restarted server has the same address and data directory.
func ExampleServer_Kill() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := redistest.Run(ctx, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	c := srv.NewClient()
	defer c.Close()
	addr := srv.Addr()

	fmt.Println(c.Set(ctx, "k", "v", 0).Err())
	fmt.Println(srv.Kill(), srv.Running())
	fmt.Println(errors.Is(srv.Pause(), redistest.ErrNotRunning))
	fmt.Println(srv.Restart(ctx), srv.Addr() == addr)
	fmt.Println(c.Exists(ctx, "k").Result()) // the client redials the same address
	// Output:
	// <nil>
	// <nil> false
	// true
	// <nil> true
	// 0 <nil>
}

// Installed tells a program, before it starts anything, whether redis-server can be found.
func ExampleInstalled() {
	if err := redistest.Installed(); err != nil {
		fmt.Println(errors.Is(err, redistest.ErrNotInstalled))
		return
	}
	fmt.Println("redis-server found")
	// Output:
	// redis-server found
}
