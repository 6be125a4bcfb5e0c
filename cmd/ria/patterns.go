package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/redisint"
	"github.com/ria-go/ria/logs"
	"github.com/ria-go/ria/market"
	"github.com/ria-go/ria/shard"
	riasync "github.com/ria-go/ria/sync"
	"github.com/ria-go/ria/uniquevisits"
)

// componentErr adds what to do to an error from a pattern's components (the first is the one
// named by --component). Once the command's time has run out, it names what did not answer: the
// config Redis, while a component's config was still being read (the registry has none loaded),
// else the components' servers.
func componentErr(s *configStore, err error, components ...string) error {
	component := components[0]
	var ce *conn.ConfigError
	switch {
	case errors.Is(err, conn.ErrNoConfig):
		return hint(err, "store the component's config with 'ria config set %s JSON', or name another with --component", component)
	case errors.Is(err, conn.ErrBadConfig):
		return hint(err, "fix it with 'ria config set %s JSON'", component)
	case errors.As(err, &ce) && ce.Key != "" && keyRefused(err): // the config key, not the data
		return hint(err, "%s", refusedHint(ce.Key, err))
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		for _, c := range components {
			if s.reg.Config(c) == nil {
				return s.serverErr(fmt.Errorf("reading %s from the config Redis: %w", s.reg.Key(c), err))
			}
		}
		where, check := component+" ("+addrOf(s.reg.Config(component))+")", strings.Join(components, " ")
		switch {
		case len(components) > 3:
			where = fmt.Sprintf("%s or one of %s .. %s", component, components[1], components[len(components)-1])
			check = ""
		case len(components) > 1:
			where = fmt.Sprintf("%s or %s", where, strings.Join(components[1:], ", "))
		}
		return hint(fmt.Errorf("%s: %w", where, err), "check that the servers answer: %s", strings.TrimSpace("'ria config check "+check)+"'")
	}
	if errors.As(err, &ce) {
		return s.serverErr(err)
	}
	return err
}

// countErr is componentErr for the counter's errors; a stored count that is an integer, but not
// one the counter writes, is said to be so rather than "not a valid integer".
func countErr(s *configStore, err error, components ...string) error {
	if !errors.Is(err, uniquevisits.ErrBadCount) {
		return componentErr(s, err, components...)
	}
	return hint(badCount(err), "the key was written by something other than the counter: 'ria visits recount' counts the sets themselves")
}

// countError rewords uniquevisits.ErrBadCount's text and still matches it.
type countError struct {
	msg string
	err error
}

func (e *countError) Error() string { return e.msg }
func (e *countError) Unwrap() error { return e.err }

// badCount reads the key and value from ErrBadCount's "KEY holds VALUE" and, when the value is an
// integer as Redis writes one, says what is wrong with it; any other text is returned as it is.
func badCount(err error) error {
	text := err.Error()
	i := strings.LastIndex(text, " holds ")
	if i < 0 {
		return err
	}
	v, uerr := strconv.Unquote(text[i+len(" holds "):])
	n, isInt := redisint.Parse(v)
	if uerr != nil || !isInt {
		return err
	}
	key := text[strings.LastIndex(text[:i], " ")+1 : i]
	what := "negative"
	if n >= 0 {
		what = "below 1 (an expected size is at least 1)"
	}
	return &countError{err: err,
		msg: fmt.Sprintf("uniquevisits: %s holds %d: an integer, but %s, which the counter never writes", key, n, what)}
}

// visitsFlags are the counter's options.
type visitsFlags struct {
	component string
	shards    int
	size      int
	day       string
}

func (v *visitsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&v.component, "component", uniquevisits.Component, "the counts' component; the sets are on COMPONENT:<n>")
	fs.IntVar(&v.shards, "shards", uniquevisits.Shards, fmt.Sprintf("sharded servers of the sets, 1 to %d", maxShards))
	fs.IntVar(&v.size, "size", uniquevisits.ShardSize, fmt.Sprintf("ids per set shard, as the counter that wrote them, 1 to %d", maxSize))
	fs.StringVar(&v.day, "day", "", "the day, YYYY-MM-DD in local time (empty: today)")
}

func (v *visitsFlags) counter(e *env) (*uniquevisits.Counter, time.Time, error) {
	day := time.Now()
	if v.day != "" {
		d, err := time.ParseInLocation(uniquevisits.DateLayout, v.day, time.Local)
		if err != nil {
			return nil, day, usagef(nil, "--day: want YYYY-MM-DD (as the keys spell it, unique:2024-03-01)")
		}
		day = d
	}
	if err := errors.Join(inRange("shards", v.shards, 1, maxShards), inRange("size", v.size, 1, maxSize)); err != nil {
		return nil, day, err
	}
	s, err := e.store()
	if err != nil {
		return nil, day, err
	}
	c, err := uniquevisits.New(s.reg, &uniquevisits.Options{Component: v.component, Shards: v.shards, ShardSize: v.size})
	if err != nil {
		return nil, day, usagef(nil, "%v", err)
	}
	return c, day, nil
}

func visitsCountCmd() *command {
	var v visitsFlags
	return &command{
		path: "visits count", summary: "a day's count of unique visitors (unique:<day>, 10.2.2)",
		setup: func(fs *flag.FlagSet) action {
			v.register(fs)
			return func(ctx context.Context, e *env, _ []string) error {
				c, day, err := v.counter(e)
				if err != nil {
					return err
				}
				n, err := c.Count(ctx, day)
				if err != nil {
					return countErr(e.cfg, err, v.component)
				}
				if e.g.json {
					return e.emit(map[string]any{"day": uniquevisits.Day(day), "count": n})
				}
				fmt.Fprintf(e.stdout, "unique visitors on %s: %d\n", uniquevisits.Day(day), n)
				return nil
			}
		},
	}
}

func visitsRecountCmd() *command {
	var v visitsFlags
	return &command{
		path: "visits recount", summary: "a day's exact unique visitors from the sets, against its count",
		detail: `SCARD of every set shard on every sharded server (uniquevisits.Counter.RecountEach), with a
progress bar on standard error when it is a terminal; servers that several components share are
counted once. The result is compared with the day's count (the INCRed unique:<day>): exit
status 1 when they differ (after ErrUncounted, say). Nothing is written.`,
		setup: func(fs *flag.FlagSet) action {
			v.register(fs)
			return func(ctx context.Context, e *env, _ []string) error { return visitsRecount(ctx, e, &v) }
		},
	}
}

type recountRow struct {
	Component string `json:"component"`
	Count     int64  `json:"count"`
	Shared    string `json:"shared_with,omitempty"`
}

func visitsRecount(ctx context.Context, e *env, v *visitsFlags) error {
	c, day, err := v.counter(e)
	if err != nil {
		return err
	}
	bar := &progressBar{w: e.stderr, on: isTerminal(e.stderr)}
	rows := []recountRow{}
	total, err := c.RecountEach(ctx, day, func(sc uniquevisits.ShardCount) {
		rows = append(rows, recountRow{Component: sc.Component, Count: sc.Count, Shared: sc.Shared})
		bar.update(sc.Done, sc.Total, sc.Component)
	})
	bar.finish()
	components := []string{v.component}
	for i := range v.shards {
		components = append(components, shard.ShardComponent(v.component, i))
	}
	if err != nil {
		return countErr(e.cfg, err, components...)
	}
	count, err := c.Count(ctx, day)
	if err != nil {
		return countErr(e.cfg, err, v.component)
	}
	if e.g.json {
		e.emit(map[string]any{"day": uniquevisits.Day(day), "recount": total, "count": count, "shards": rows, "match": total == count})
	} else {
		table := [][]string{}
		for _, r := range rows {
			note := ""
			if r.Shared != "" {
				note = "same server as " + r.Shared + ", counted there"
			}
			table = append(table, []string{r.Component, strconv.FormatInt(r.Count, 10), note})
		}
		e.table([]string{"SHARD", "IDS", "NOTE"}, table)
		fmt.Fprintf(e.stdout, "%s: recount (sets) %d, count (%s:%s) %d\n", uniquevisits.Day(day), total, v.component, uniquevisits.Day(day), count)
	}
	if total != count {
		return &reported{msg: fmt.Sprintf("the count differs from the sets by %d: the sets are exact (a visit whose INCR failed is in them)", total-count)}
	}
	return nil
}

func marketLsCmd() *command {
	var component string
	var n int
	return &command{
		path: "market ls", summary: "the cheapest listings of market: (4.4)",
		setup: func(fs *flag.FlagSet) action {
			fs.StringVar(&component, "component", "market", "the market's component")
			fs.IntVar(&n, "count", 10, fmt.Sprintf("how many listings, 1 to %d", market.MaxCheapest))
			return func(ctx context.Context, e *env, _ []string) error {
				if n < 1 || n > market.MaxCheapest {
					return usagef(nil, "--count %d: want 1 to %d", n, market.MaxCheapest)
				}
				s, err := e.store()
				if err != nil {
					return err
				}
				ls, err := conn.Wrap1(s.reg, component, market.Cheapest)(ctx, n)
				if err != nil {
					return componentErr(s, err, component)
				}
				if e.g.json {
					type row struct {
						Item   string `json:"item"`
						Seller string `json:"seller"`
						Price  int64  `json:"price"`
					}
					out := []row{}
					for _, l := range ls {
						out = append(out, row{l.Item, l.Seller, l.Price})
					}
					return e.emit(map[string]any{"listings": out})
				}
				if len(ls) == 0 {
					fmt.Fprintln(e.stdout, "no listings")
					return nil
				}
				table := [][]string{}
				for _, l := range ls {
					table = append(table, []string{l.Item, l.Seller, strconv.FormatInt(l.Price, 10)})
				}
				e.table([]string{"ITEM", "SELLER", "PRICE"}, table)
				return nil
			}
		},
	}
}

func marketUserCmd() *command {
	var component string
	return &command{
		path: "market user", args: "ID", min: 1, max: 1,
		summary: "a user's name, funds and inventory (users:<id>, inventory:<id>)",
		setup: func(fs *flag.FlagSet) action {
			fs.StringVar(&component, "component", "market", "the market's component")
			return func(ctx context.Context, e *env, args []string) error {
				if args[0] == "" || strings.Contains(args[0], ".") { // market.User refuses it too, after the lookup
					return usagef(nil, "ID: a user id is non-empty and has no \".\" (market.ErrInvalidID)")
				}
				s, err := e.store()
				if err != nil {
					return err
				}
				u, err := conn.Wrap1(s.reg, component, market.User)(ctx, args[0])
				if err != nil && !errors.Is(err, market.ErrBadFunds) {
					return componentErr(s, err, component)
				}
				if e.g.json {
					doc := map[string]any{"id": u.ID, "name": u.Name, "funds": u.Funds, "inventory": nonNil(u.Inventory)}
					if err != nil {
						doc["error"] = errText(err)
					}
					e.emit(doc)
				} else {
					items := make([]string, len(u.Inventory))
					for i, it := range u.Inventory {
						items[i] = shown(it)
						if it == "" || strings.ContainsRune(it, ' ') { // one word per item
							items[i] = quote(it)
						}
					}
					e.pairs([][2]string{{"user", u.ID}, {"name", orDash(u.Name)}, {"funds", strconv.FormatInt(u.Funds, 10)},
						{"inventory", fmt.Sprintf("%d items: %s", len(u.Inventory), strings.Join(items, " "))}})
				}
				return err
			}
		},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func logsProgressCmd() *command {
	var component, prefix string
	return &command{
		path: "logs progress", summary: "where log processing stands: the saved file and position (4.1.1)",
		shadow: []string{"prefix"},
		setup: func(fs *flag.FlagSet) action {
			fs.StringVar(&component, "component", "logs", "the log processor's component")
			fs.StringVar(&prefix, "prefix", "progress:", "the progress keys' prefix (logs.Options.Prefix)")
			return func(ctx context.Context, e *env, _ []string) error {
				s, err := e.store()
				if err != nil {
					return err
				}
				p, err := conn.Wrap1(s.reg, component, logs.ReadProgress)(ctx, prefix)
				if err != nil {
					if errors.Is(err, logs.ErrBadProgress) {
						return hint(err, "the keys %sfile and %sposition hold something logs.ProcessLogs did not write", prefix, prefix)
					}
					return componentErr(s, err, component)
				}
				if e.g.json {
					return e.emit(map[string]any{"prefix": prefix, "saved": p.Saved, "file": p.File, "position": p.Position})
				}
				if !p.Saved {
					fmt.Fprintf(e.stdout, "nothing saved under %s: processing starts with the first file\n", prefix)
					return nil
				}
				e.pairs([][2]string{{"file", p.File}, {"position", strconv.FormatInt(p.Position, 10)}})
				return nil
			}
		},
	}
}

type syncSide struct {
	Component    string `json:"component"`
	Addr         string `json:"addr,omitempty"`
	Role         string `json:"role,omitempty"`
	LinkUp       bool   `json:"link_up"`
	Offset       int64  `json:"offset"`
	ReplID       string `json:"repl_id,omitempty"`
	AOF          bool   `json:"aof"`
	Fsync        string `json:"appendfsync,omitempty"`
	AOFLastWrite string `json:"aof_last_write,omitempty"`
	AOFRewriting bool   `json:"aof_rewriting"`
	PendingFsync int64  `json:"aof_pending_fsync"`
	Error        string `json:"error,omitempty"`
}

type syncDoc struct {
	Master   syncSide `json:"master"`
	Replica  syncSide `json:"replica"`
	LagBytes int64    `json:"lag_bytes"`
	Follows  bool     `json:"follows"` // the replica shares the master's replication id
	Problems []string `json:"problems"`
}

func syncStatusCmd() *command {
	return &command{
		path: "sync status", args: "MASTER REPLICA", min: 2, max: 2,
		summary: "a master and its replica: link, offsets, AOF (4.2, 4.3)",
		detail: `MASTER and REPLICA are components. Each is read with sync.ReadReplication and ReadPersistence.
Exit status 1 when the replica is not a replica, its link is down or syncing, it follows another
master (its replication id differs from MASTER's), or an AOF write failed.`,
		setup: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, e *env, args []string) error { return syncStatus(ctx, e, args[0], args[1]) }
		},
	}
}

func syncStatus(ctx context.Context, e *env, master, replica string) error {
	s, err := e.store()
	if err != nil {
		return err
	}
	for _, c := range []string{master, replica} {
		if _, err := s.need(ctx, c); err != nil {
			return err
		}
	}
	read := func(ctx context.Context, m, r redis.Cmdable, _ struct{}) (syncDoc, error) {
		d := syncDoc{Master: side(ctx, m), Replica: side(ctx, r), Problems: []string{}}
		return d, nil
	}
	d, err := conn.WrapPair(s.reg, master, replica, read)(ctx, struct{}{})
	if err != nil {
		return componentErr(s, err, master, replica)
	}
	d.Master.Component, d.Replica.Component = master, replica
	if c := s.reg.Config(master); c != nil {
		d.Master.Addr = addrOf(c)
	}
	if c := s.reg.Config(replica); c != nil {
		d.Replica.Addr = addrOf(c)
	}
	m, r := &d.Master, &d.Replica
	d.Follows = m.ReplID != "" && m.ReplID == r.ReplID
	d.LagBytes = max(m.Offset-r.Offset, 0)
	add := func(format string, a ...any) { d.Problems = append(d.Problems, fmt.Sprintf(format, a...)) }
	for _, sd := range []*syncSide{m, r} {
		if sd.Error != "" {
			add("%s: %s", sd.Component, sd.Error)
		}
		if sd.AOFLastWrite == "err" {
			add("%s: the last AOF write failed", sd.Component)
		}
	}
	if r.Error == "" {
		switch {
		case r.Role != "slave":
			add("%s is not a replica (role %s)", replica, r.Role)
		case !r.LinkUp:
			add("%s's link to its master is down", replica)
		case m.Error == "" && !d.Follows:
			add("%s follows another master than %s (replication ids differ)", replica, master)
		}
	}
	if e.g.json {
		e.emit(d)
	} else {
		link := func(sd *syncSide) string {
			switch {
			case sd.Error != "":
				return stDown
			case sd.Role != "slave":
				return "-"
			case sd.LinkUp:
				return "up"
			}
			return stDown
		}
		aof := func(sd *syncSide) string {
			if sd.Error != "" {
				return "-"
			}
			if !sd.AOF {
				return "off"
			}
			s := "on, appendfsync " + orDash(sd.Fsync) + ", last write " + orDash(sd.AOFLastWrite)
			if sd.AOFRewriting {
				s += ", rewriting"
			}
			return s + fmt.Sprintf(", %d fsync pending", sd.PendingFsync)
		}
		role := func(sd *syncSide) string {
			if sd.Role == "slave" {
				return "replica"
			}
			return orDash(sd.Role)
		}
		e.table([]string{"", "MASTER", "REPLICA"}, [][]string{
			{"component", master, replica},
			{"address", orDash(m.Addr), orDash(r.Addr)},
			{"role", role(m), role(r)},
			{"link", link(m), link(r)},
			{"offset", strconv.FormatInt(m.Offset, 10), fmt.Sprintf("%d (%d bytes behind)", r.Offset, d.LagBytes)},
			{"aof", aof(m), aof(r)},
		})
		if len(d.Problems) == 0 {
			fmt.Fprintln(e.stdout, "status: ok")
		} else {
			for _, p := range d.Problems {
				fmt.Fprintf(e.stdout, "problem: %s\n", shown(p))
			}
		}
	}
	if len(d.Problems) > 0 {
		return &reported{msg: fmt.Sprintf("%d problem(s) with %s -> %s", len(d.Problems), master, replica)}
	}
	return nil
}

// side reads one server's replication and persistence through the sync package.
func side(ctx context.Context, c redis.Cmdable) syncSide {
	var sd syncSide
	rep, err := riasync.ReadReplication(ctx, c)
	if err != nil {
		sd.Error = errText(err)
		return sd
	}
	sd.Role, sd.LinkUp, sd.Offset, sd.ReplID = rep.Role, rep.LinkUp, rep.Offset, rep.ReplID
	p, err := riasync.ReadPersistence(ctx, c)
	if err != nil {
		sd.Error = errText(err)
		return sd
	}
	sd.AOF, sd.Fsync, sd.AOFLastWrite, sd.AOFRewriting, sd.PendingFsync = p.AOF, p.Fsync, p.AOFLastWrite, p.AOFRewriting, p.AOFPendingFsync
	return sd
}
