package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The section quotes the run's own figures, and says which of WAIT's unpromised cases the run met.
func TestFailoverSection(t *testing.T) {
	row := func(short string, acked, lost int, calls int) *failoverRow {
		return &failoverRow{mode: failoverMode{name: short + " mode", short: short}, acked: acked, lost: lost,
			rate: Rate{Calls: calls, Elapsed: time.Second}, waits: Latencies{time.Millisecond, 2 * time.Millisecond}}
	}
	for _, tc := range []struct {
		name     string
		rows     []*failoverRow
		want     []string
		wantNone []string
	}{
		{"nothing lost by the modes that wait",
			[]*failoverRow{row("default", 100, 7, 1000), row("durable", 90, 0, 800), row("wait_for_sync", 50, 0, 500)},
			[]string{"default 7, durable 0, wait_for_sync 0", "durable at 80% of default's throughput", "lost none either"},
			[]string{"met the promotion case"}},
		{"wait_for_sync lost what one replica confirmed",
			[]*failoverRow{row("default", 100, 7, 1000), row("durable", 90, 0, 800), row("wait_for_sync", 50, 3, 500)},
			[]string{"wait_for_sync 3", "met the promotion case with wait_for_sync"},
			[]string{"lost none either"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, chartDir), 0o755); err != nil {
				t.Fatal(err)
			}
			env := newEnv(Smoke, dir, newProgress(&strings.Builder{}))
			s, err := failoverBench{}.section(env, tc.rows, []string{"SIGKILL", "SIGSTOP"}, 1,
				Latencies{4 * time.Second, 5 * time.Second}, 1, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			text := s.Summary + "\n" + strings.Join(s.Text, "\n") + "\n" + strings.Join(s.Notes, "\n")
			if !strings.HasPrefix(s.Summary, "3 failovers:") {
				t.Errorf("summary %q; want it to count 3 failovers (2 asked for, 1 by the Sentinel)", s.Summary)
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("section lacks %q:\n%s", w, text)
				}
			}
			for _, w := range tc.wantNone {
				if strings.Contains(text, w) {
					t.Errorf("section has %q:\n%s", w, text)
				}
			}
			if len(s.Tables) != 1 || len(s.Tables[0].Rows) != 3 || len(s.Charts) != 1 {
				t.Errorf("%d tables, %d charts; want one table of 3 modes and one chart", len(s.Tables), len(s.Charts))
			}
		})
	}
}
