package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/logs"
)

func init() { register(46, processLogsBench{}) }

// processLogsBench measures logs.ProcessLogs (Redis in Action 4.1.1): lines per second with a callback
// that queues one command per line, against the same commands sent raw, in pipelines and in
// MULTI/EXEC transactions of the same size, reading the same files.
type processLogsBench struct{}

func (processLogsBench) Name() string { return "processlogs" }

const (
	logsBatch     = 1000 // ProcessLogs' default BatchLines, the book's 1000
	logsStatusKey = "bench:status"
)

// logsVariant processes every file in dir once; it returns the lines it sent.
type logsVariant struct {
	name, short string
	run         func(ctx context.Context, c *redis.Client, dir string) (int64, error)
}

func (b processLogsBench) Run(ctx context.Context, env *Env) (Section, error) {
	srv, err := env.Server(ctx, nil)
	if err != nil {
		return Section{}, err
	}
	c := srv.NewClient()
	defer c.Close()

	dir, err := os.MkdirTemp("", "ria-bench-logs-")
	if err != nil {
		return Section{}, err
	}
	defer os.RemoveAll(dir)
	files, perFile := Pick(env, 4, 4, 2), Pick(env, 125_000, 50_000, 2_000)
	env.Progress("writing %d log files of %d lines", files, perFile)
	size, err := writeLogs(dir, files, perFile)
	if err != nil {
		return Section{}, err
	}
	lines := int64(files * perFile)

	variants := []logsVariant{
		{"`logs.ProcessLogs`: callback queues one HINCRBY per line; WATCH + MULTI/EXEC with the progress every 1,000 lines",
			"ProcessLogs", func(ctx context.Context, c *redis.Client, dir string) (int64, error) {
				res, err := logs.ProcessLogs(ctx, c, dir, func(ctx context.Context, p redis.Pipeliner, l logs.Line) error {
					status, err := logStatus(l.Text)
					if err != nil {
						return err
					}
					p.HIncrBy(ctx, logsStatusKey, status, 1)
					return nil
				}, &logs.Options{Prefix: "bench:progress:", BatchLines: logsBatch})
				return res.Lines, err
			}},
		{"the same HINCRBYs in MULTI/EXEC transactions of 1,000 (no WATCH, no progress)", "MULTI/EXEC",
			func(ctx context.Context, c *redis.Client, dir string) (int64, error) {
				return sendLogs(ctx, dir, func(fn func(redis.Pipeliner) error) error {
					_, err := c.TxPipelined(ctx, fn)
					return err
				})
			}},
		{"the same HINCRBYs in plain pipelines of 1,000", "pipeline",
			func(ctx context.Context, c *redis.Client, dir string) (int64, error) {
				return sendLogs(ctx, dir, func(fn func(redis.Pipeliner) error) error {
					_, err := c.Pipelined(ctx, fn)
					return err
				})
			}},
	}

	rounds := Pick(env, 4, 2, 1)
	rates := make([]Rate, len(variants))
	cmds := make([]map[string]int64, len(variants))
	for i := range cmds {
		cmds[i] = map[string]int64{}
	}
	perRound := make([][]float64, len(variants)) // lines/s of each round, for the spread
	hosts := []redis.UniversalClient{c}
	for k := range rounds {
		for x := range variants {
			i := (k + x) % len(variants) // who goes first rotates, so that none always runs first
			v := variants[i]
			env.Progress("%s (%d/%d): %d lines", v.short, k+1, rounds, lines)
			if err := c.Del(ctx, logsStatusKey, "bench:progress:file", "bench:progress:position").Err(); err != nil {
				return Section{}, err
			}
			before, err := commandStats(ctx, hosts)
			if err != nil {
				return Section{}, err
			}
			t0 := time.Now()
			n, err := v.run(ctx, c, dir)
			took := time.Since(t0)
			if err != nil {
				return Section{}, fmt.Errorf("%s: %w", v.short, err)
			}
			after, err := commandStats(ctx, hosts)
			if err != nil {
				return Section{}, err
			}
			for name, calls := range after {
				if d := calls - before[name]; d != 0 && !handshake[name] {
					cmds[i][name] += d
				}
			}
			if err := checkLogCounts(ctx, c, lines); err != nil || n != lines {
				return Section{}, fmt.Errorf("%s: sent %d of %d lines: %v", v.short, n, lines, err)
			}
			rates[i].Calls += int(n)
			rates[i].Elapsed += took
			perRound[i] = append(perRound[i], Rate{Calls: int(n), Elapsed: took}.PerSec())
		}
	}
	var vsPipe []float64 // ProcessLogs over the plain pipeline, round by round
	for k := range rounds {
		vsPipe = append(vsPipe, perRound[0][k]/perRound[len(variants)-1][k])
	}
	return b.section(env, files, perFile, size, rounds, variants, rates, cmds, vsPipe)
}

// logStatus is the status code of a Common Log Format line: the field after the quoted request.
func logStatus(line string) (string, error) {
	_, rest, ok := strings.Cut(line, `" `)
	if !ok {
		return "", fmt.Errorf("no request in %q", line)
	}
	status, _, _ := strings.Cut(rest, " ")
	if len(status) != 3 {
		return "", fmt.Errorf("no status in %q", line)
	}
	return status, nil
}

// writeLogs writes files of perFile Common Log Format lines each (from a seeded generator, so every
// run reads the same) and returns their total size.
func writeLogs(dir string, files, perFile int) (int64, error) {
	rng := rand.New(rand.NewPCG(4, 1))
	statuses := []string{"200", "200", "200", "200", "200", "200", "304", "404", "500", "302"}
	paths := []string{"/", "/item/", "/user/", "/cart", "/search?q="}
	var total int64
	t := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for f := range files {
		fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("access-%03d.log", f)))
		if err != nil {
			return 0, err
		}
		w := bufio.NewWriterSize(fh, 1<<16)
		for range perFile {
			t = t.Add(time.Duration(rng.IntN(50)) * time.Millisecond)
			n, _ := fmt.Fprintf(w, "10.%d.%d.%d - - [%s] \"GET %s%d HTTP/1.1\" %s %d\n",
				rng.IntN(256), rng.IntN(256), rng.IntN(256), t.Format("02/Jan/2006:15:04:05 -0700"),
				paths[rng.IntN(len(paths))], rng.IntN(100_000), statuses[rng.IntN(len(statuses))], rng.IntN(20_000))
			total += int64(n)
		}
		if err := errors.Join(w.Flush(), fh.Close()); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// sendLogs reads every file in dir in name order, as ProcessLogs does, and hands the HINCRBY of each
// line to send in batches of logsBatch lines (and at each file's end).
func sendLogs(ctx context.Context, dir string, send func(fn func(redis.Pipeliner) error) error) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var sent int64
	batch := make([]string, 0, logsBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := send(func(p redis.Pipeliner) error {
			for _, status := range batch {
				p.HIncrBy(ctx, logsStatusKey, status, 1)
			}
			return nil
		})
		sent += int64(len(batch))
		batch = batch[:0]
		return err
	}
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return sent, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			status, err := logStatus(sc.Text())
			if err != nil {
				f.Close()
				return sent, err
			}
			if batch = append(batch, status); len(batch) == logsBatch {
				if err := flush(); err != nil {
					f.Close()
					return sent, err
				}
			}
		}
		f.Close()
		if err := errors.Join(sc.Err(), flush()); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// checkLogCounts checks that the counts add up to the lines: every line counted once.
func checkLogCounts(ctx context.Context, c *redis.Client, lines int64) error {
	m, err := c.HGetAll(ctx, logsStatusKey).Result()
	if err != nil {
		return err
	}
	var sum int64
	for _, v := range m {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		sum += n
	}
	if sum != lines {
		return fmt.Errorf("counts add up to %d, want %d", sum, lines)
	}
	return nil
}

func (processLogsBench) section(env *Env, files, perFile int, size int64, rounds int, vs []logsVariant, rates []Rate,
	cmds []map[string]int64, vsPipe []float64) (Section, error) {
	lines := files * perFile
	s := Section{
		Title: "ProcessLogs: the cost of exactly-once",
		Text: []string{
			fmt.Sprintf("`logs.ProcessLogs` (the book's `process_logs`, listing 4.2) over %d files of %s Common Log "+
				"Format lines (%s, %s in all), its callback queuing one `HINCRBY %s <status> 1` per line, against the "+
				"same commands sent raw, reading the same files, in batches of the same size (%s lines): in MULTI/EXEC "+
				"transactions, and in plain pipelines. ProcessLogs adds per batch a WATCH on the two progress keys, an "+
				"MGET of them (to refuse a concurrent run) and an MSET of the new progress inside the transaction: that "+
				"is what makes a crash at any moment resume without losing or double counting a line. The variants "+
				"take turns, %d round(s) of every line each, who goes first rotating, the counts checked after every round.",
				files, count(perFile), bytesIEC(float64(size)), count(lines), logsStatusKey, count(logsBatch), rounds),
		},
	}
	tab := Table{Header: []string{"variant", "lines /s", "time per 1,000 lines", "vs plain pipeline",
		"server commands per 1,000 lines", "lines sent"}}
	base := rates[len(rates)-1].PerSec()
	var groups []string
	var vals []float64
	for i, v := range vs {
		r := rates[i]
		tab.Rows = append(tab.Rows, []string{v.name, num(r.PerSec()), ms(r.Elapsed * logsBatch / time.Duration(max(r.Calls, 1))),
			pct(r.PerSec() / base), cmdSummary(cmds[i], r.Calls/logsBatch), count(r.Calls)})
		groups = append(groups, v.short)
		vals = append(vals, r.PerSec())
	}
	s.Tables = append(s.Tables, tab)
	s.Summary = fmt.Sprintf("lines/s in batches of %s: ProcessLogs %s, MULTI/EXEC %s, plain pipeline %s (ProcessLogs at %s of the pipeline)",
		count(logsBatch), num(vals[0]), num(vals[1]), num(vals[2]), pct(vals[0]/vals[2]))
	s.Notes = append(s.Notes, "Reading it: a batch of 1,000 lines is one round trip in the raw variants, so the per-line "+
		"costs dominate: reading and parsing the line, queuing the command, and the server executing it. "+
		"MULTI/EXEC adds two commands per batch (the server queues each command until EXEC); ProcessLogs "+
		"adds two more round trips per batch (WATCH, then the MGET of the progress) and the MSET (the commands "+
		"column is what the server counted; the odd UNWATCH ends a file with nothing left to commit). Spread over "+
		"1,000 lines, exactly-once costs the gap between the rows: round by round, ProcessLogs ran at "+
		spread(vsPipe)+" of the plain pipeline's rate.")

	p, err := barChart(fmt.Sprintf("ProcessLogs: lines per second, batches of %s", count(logsBatch)), "lines per second",
		groups, []series{{Name: "lines/s", Values: vals, Color: blue}}, false, nil)
	if err != nil {
		return s, err
	}
	path, err := env.SaveChart("processlogs", p, chartW, chartH)
	if err != nil {
		return s, err
	}
	s.Charts = append(s.Charts, Chart{Title: "ProcessLogs chart", Path: path})
	return s, nil
}

// spread is a set of ratios as a percentage: "88%" for one, "88% (85%–91%)" for the median and range.
func spread(rs []float64) string {
	if len(rs) == 1 {
		return pct(rs[0])
	}
	return fmt.Sprintf("%s (%s–%s)", pct(median(rs)), pct(slices.Min(rs)), pct(slices.Max(rs)))
}
