package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The README's benchmark section lies between these markers; -readme rewrites it from the run, so the
// summary there never goes stale.
const (
	readmeStart = "<!-- bench:start -->"
	readmeEnd   = "<!-- bench:end -->"
)

// ErrNoMarkers is returned when the README lacks the markers (once each, start before end).
var ErrNoMarkers = errors.New("README has no " + readmeStart + " ... " + readmeEnd + " section")

// checkReadme reports whether path can be rewritten, before a run spends minutes measuring.
func checkReadme(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, _, err = splitReadme(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// splitReadme returns what comes up to and including the start marker's line, and from the end marker on.
func splitReadme(b []byte) (head, tail []byte, err error) {
	s, e := bytes.Index(b, []byte(readmeStart)), bytes.Index(b, []byte(readmeEnd))
	if s < 0 || e < 0 || e < s || bytes.Count(b, []byte(readmeStart)) != 1 || bytes.Count(b, []byte(readmeEnd)) != 1 {
		return nil, nil, ErrNoMarkers
	}
	return b[:s+len(readmeStart)], b[e:], nil
}

// writeReadme puts the run's summary table and first chart between the README's markers, with links
// relative to the README, and leaves everything else in it as it was.
func writeReadme(path, reportPath string, r Report) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	head, tail, err := splitReadme(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	rel := func(p string) string { // a path relative to the report's directory, made relative to the README
		abs, err1 := filepath.Abs(filepath.Join(filepath.Dir(reportPath), p))
		dir, err2 := filepath.Abs(filepath.Dir(path))
		if err1 != nil || err2 != nil {
			return p
		}
		out, err := filepath.Rel(dir, abs)
		if err != nil {
			return p
		}
		return filepath.ToSlash(out)
	}
	report := rel(filepath.Base(reportPath))
	m := r.Machine
	var sec bytes.Buffer
	fmt.Fprintf(&sec, "\nLatest run: `cd benchmarks && go run .%s` (%s mode, %v) on %s, %d × %s, redis-server %s, "+
		"go-redis %s; load average %s at the start, %s at the end (a shared machine). Every table, with the "+
		"book's figures beside ours: [%s](%s).\n\n", r.Mode.flag(), r.Mode, r.Took.Round(time.Second),
		m.Date.Format("2006-01-02"), m.Cores, m.CPU, m.RedisServer, m.GoRedis, firstField(m.LoadAvg),
		firstField(m.LoadAvgEnd), report, report)
	var rows [][]string
	var chart *Chart
	for _, s := range r.Sections {
		line := s.Summary
		if s.Failed != "" {
			line = "FAILED: " + s.Failed
		}
		rows = append(rows, []string{fmt.Sprintf("[%s](%s#%s)", s.Title, report, anchor(s.Title)), line})
		if chart == nil && len(s.Charts) > 0 {
			chart = &s.Charts[0]
		}
	}
	writeTable(&sec, Table{Header: []string{"measurement", "result"}, Rows: rows})
	if chart != nil {
		fmt.Fprintf(&sec, "![%s](%s)\n\n", chart.Title, rel(chart.Path))
	}
	sec.WriteString("Reproduce: `make bench` (the full run, under 10 minutes on 2 cores; it rewrites " + report +
		", its charts and this section) or `cd benchmarks && go run . -quick` (under 2 minutes; it writes its report and charts to a temporary " +
		"directory, or to -out).\n\n")
	out := append(append(append([]byte{}, head...), sec.Bytes()...), tail...)
	return os.WriteFile(path, out, 0o644)
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}
