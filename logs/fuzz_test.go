package logs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// FuzzLogLines: any file content is processed line by line or stopped with a typed error, never a
// panic; when it succeeds, every line is committed exactly once and the saved position is the file's
// end; a line longer than MaxLineBytes is ErrLineTooLong with nothing after it committed.
func FuzzLogLines(f *testing.F) {
	for _, s := range []string{"a\nb\nc\n", "no newline at end", "", "\n\n\n", "crlf\r\nline\r\n", "long line " +
		string(bytes.Repeat([]byte("x"), 80)) + "\nshort\n", "\x00\xff\n\r\r\n"} {
		f.Add([]byte(s))
	}
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		f.Fatal(err)
	}
	defer m.Close()
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	const maxLine = 64
	f.Fuzz(func(t *testing.T, content []byte) {
		m.FlushAll()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "a.log"), content, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := ProcessLogs(ctx, c, dir, func(ctx context.Context, p redis.Pipeliner, l Line) error {
			p.Incr(ctx, "lines")
			return nil
		}, &Options{BatchLines: 3, MaxLineBytes: maxLine})

		lines := bytes.SplitAfter(content, []byte("\n"))
		if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		counted, _ := c.Get(ctx, "lines").Int64()
		if err != nil {
			if !errors.Is(err, ErrLineTooLong) {
				t.Fatalf("ProcessLogs: unexpected error %v", err)
			}
			// Everything before the long line, and nothing after it, may be committed.
			long := 0
			for long < len(lines) && len(bytes.TrimSuffix(bytes.TrimSuffix(lines[long], []byte("\n")), []byte("\r"))) <= maxLine {
				long++
			}
			if long == len(lines) || counted > int64(long) || res.Lines != counted {
				t.Fatalf("ErrLineTooLong at line %d of %d, with %d counted and %d reported", long, len(lines), counted, res.Lines)
			}
			return
		}
		if counted != int64(len(lines)) || res.Lines != counted || res.Position != int64(len(content)) {
			t.Fatalf("%d lines: counted %d, reported %d, position %d of %d bytes", len(lines), counted, res.Lines, res.Position, len(content))
		}
	})
}
