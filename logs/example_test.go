package logs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/logs"
)

// countStatus counts the status codes of common-log-format lines in the HASH status:.
func countStatus(ctx context.Context, pipe redis.Pipeliner, line logs.Line) error {
	fields := strings.Fields(line.Text)
	if len(fields) < 2 {
		return nil // not a request line: skip it
	}
	pipe.HIncrBy(ctx, "status:", fields[len(fields)-2], 1)
	return nil
}

func ExampleProcessLogs() {
	ctx := context.Background()
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		panic(err)
	}
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()

	dir, _ := os.MkdirTemp("", "logs-example-")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "access-1.log"), []byte(
		`1.2.3.4 - - [31/Jan/2024:10:00:00] "GET / HTTP/1.1" 200 512`+"\n"+
			`1.2.3.4 - - [31/Jan/2024:10:00:01] "GET /x HTTP/1.1" 404 0`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "access-2.log"), []byte(
		`5.6.7.8 - - [31/Jan/2024:10:00:02] "GET / HTTP/1.1" 200 512`+"\n"), 0o644)

	res, err := logs.ProcessLogs(ctx, c, dir, countStatus, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d lines from %d files, progress %s at byte %d\n", res.Lines, res.Files, res.File, res.Position)
	fmt.Println(c.HGetAll(ctx, "status:").Val())

	// A later run resumes: only the new line is counted.
	f, _ := os.OpenFile(filepath.Join(dir, "access-2.log"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`5.6.7.8 - - [31/Jan/2024:10:00:03] "GET /y HTTP/1.1" 500 0` + "\n")
	f.Close()
	res, _ = logs.ProcessLogs(ctx, c, dir, countStatus, nil)
	fmt.Printf("%d new line\n", res.Lines)
	fmt.Println(c.HGetAll(ctx, "status:").Val())
	// Output:
	// 3 lines from 2 files, progress access-2.log at byte 60
	// map[200:2 404:1]
	// 1 new line
	// map[200:2 404:1 500:1]
}

func ExampleReadProgress() {
	ctx := context.Background()
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		panic(err)
	}
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()

	p, _ := logs.ReadProgress(ctx, c, "")
	fmt.Printf("%+v\n", p)
	c.MSet(ctx, "progress:file", "access-7.log", "progress:position", "4096") // as the book's Python saves it
	p, _ = logs.ReadProgress(ctx, c, "")
	fmt.Printf("%+v\n", p)
	// Output:
	// {Saved:false File: Position:0}
	// {Saved:true File:access-7.log Position:4096}
}
