package ch04

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/logs"
)

// generateLogs writes access-2024010N.log files of the given line counts into dir.
func generateLogs(dir string, lines []int) (int, error) {
	rng := rand.New(rand.NewPCG(4, 1))
	statuses := []int{200, 200, 200, 200, 301, 304, 404, 500}
	total := 0
	for i, n := range lines {
		var b strings.Builder
		for j := range n {
			b.WriteString(logLine(rng, j, statuses[rng.IntN(len(statuses))]))
			b.WriteByte('\n')
		}
		total += n
		name := filepath.Join(dir, fmt.Sprintf("access-2024010%d.log", i))
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// logLine is one access log line, its status second to last.
func logLine(rng *rand.Rand, n, status int) string {
	return fmt.Sprintf(`10.0.%d.%d - - [01/Jan/2024:10:%02d:%02d +0000] "GET /item/%d HTTP/1.1" %d %d`,
		rng.IntN(256), rng.IntN(256), n/60%60, n%60, rng.IntN(10000), status, rng.IntN(5000))
}

func appendLines(path string, lines ...string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
	return errors.Join(err, f.Close())
}

// liveLine returns an OnCommit hook showing progress at most every 50 ms (one line rewritten in
// place on a terminal, a line per update otherwise), and a function that ends the live line.
func liveLine(env *tour.Env) (func(logs.Result), func()) {
	f, ok := env.Out.(*os.File)
	tty := false
	if ok {
		if fi, err := f.Stat(); err == nil {
			tty = fi.Mode()&os.ModeCharDevice != 0
		}
	}
	var last time.Time
	shown := false
	done := func() {
		if tty && shown {
			env.Printf("\n")
		}
	}
	return func(r logs.Result) {
		if time.Since(last) < 50*time.Millisecond {
			return
		}
		last = time.Now()
		line := fmt.Sprintf("%s at byte %d: %d lines, %d commits", r.File, r.Position, r.Lines, r.Commits)
		shown = true
		if tty {
			env.Printf("\r  %-70s", line)
		} else {
			env.Printf("  %s\n", line)
		}
	}, done
}
