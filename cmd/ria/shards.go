package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/shard"
	riasync "github.com/ria-go/ria/sync"
)

type shardRow struct {
	Shard      int     `json:"shard"`
	Component  string  `json:"component"`
	Addr       string  `json:"addr,omitempty"`
	Up         bool    `json:"up"`
	Role       string  `json:"role,omitempty"`
	RTTms      float64 `json:"rtt_ms"`
	UsedMemory int64   `json:"used_memory"`
	Keys       int64   `json:"keys"`
	Rejected   int64   `json:"rejected_connections"`
	Evicted    int64   `json:"evicted_keys"`
	Link       string  `json:"link,omitempty"` // a replica's master_link_status, or a master's replica count
	Trouble    string  `json:"trouble,omitempty"`
	Error      string  `json:"error,omitempty"`
}

type shardsDoc struct {
	Component  string     `json:"component"`
	Shards     []shardRow `json:"shards"`
	Up         int        `json:"up"`
	Down       []string   `json:"down"`
	KeysSkew   float64    `json:"keys_skew"`   // largest over mean, over the shards that are up; 0: no data
	MemorySkew float64    `json:"memory_skew"` // the same for used_memory
}

func shardsStatusCmd() *command {
	var n int
	var pingTimeout time.Duration
	return &command{
		path: "shards status", args: "COMPONENT", min: 1, max: 1,
		summary: "each shard's address, role, round trip, memory, keys and trouble; skew; which are down",
		detail: `Shards are the components COMPONENT:0 .. COMPONENT:N-1 (the book's sharded connections, 10.2).
Each is asked, in parallel and within --ping-timeout: PING, INFO replication (role and link),
INFO memory and stats (used_memory, rejected_connections, evicted_keys) and DBSIZE. A shard that
does not answer is a row marked down; the exit status is then 1. Trouble (rejected connections,
evictions, a replica's link down) is shown, and does not change the exit status.`,
		setup: func(fs *flag.FlagSet) action {
			fs.IntVar(&n, "shards", 0, fmt.Sprintf("shard count, 0 to %d (0: one more than the highest COMPONENT:<n> stored)", maxShards))
			fs.DurationVar(&pingTimeout, "ping-timeout", 2*time.Second, "how long each shard has to answer")
			return func(ctx context.Context, e *env, args []string) error {
				if err := inRange("shards", n, 0, maxShards); err != nil {
					return err
				}
				if pingTimeout <= 0 {
					return usagef(nil, "--ping-timeout %v: must be more than 0", pingTimeout)
				}
				return shardsStatus(ctx, e, args[0], n, pingTimeout)
			}
		},
	}
}

func shardsStatus(ctx context.Context, e *env, component string, n int, pingTimeout time.Duration) error {
	s, err := e.store()
	if err != nil {
		return err
	}
	if n == 0 {
		names, err := s.reg.StoredComponents(ctx)
		if err != nil {
			return s.serverErr(err)
		}
		for _, name := range names {
			if rest, ok := strings.CutPrefix(name, component+":"); ok {
				if i, err := strconv.Atoi(rest); err == nil && i >= 0 && strconv.Itoa(i) == rest {
					n = max(n, i+1)
				}
			}
		}
		if n == 0 {
			return hint(fmt.Errorf("no shard configs stored for %s (%s%s:0, ...)", component, e.g.prefix, component),
				"store them with 'ria config set %s:0 JSON', or pass --shards N", component)
		}
		if n > maxShards {
			return hint(fmt.Errorf("a shard config %s%s:%d is stored, beyond the %d shards ria shows", e.g.prefix, component, n-1, maxShards),
				"pass --shards N (at most %d) for the shards to show, and remove the stray config with 'ria config rm %s:%d'", maxShards, component, n-1)
		}
	}
	rows := make([]shardRow, n)
	errs := make([]error, n)
	parallel(n, 8, func(i int) { rows[i], errs[i] = shardRowOf(ctx, s, component, i, pingTimeout) })
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	doc := shardsDoc{Component: component, Shards: rows, Down: []string{}}
	var keys, mem []float64
	for _, r := range rows {
		if !r.Up {
			doc.Down = append(doc.Down, r.Component)
			continue
		}
		doc.Up++
		keys, mem = append(keys, float64(r.Keys)), append(mem, float64(r.UsedMemory))
	}
	doc.KeysSkew, doc.MemorySkew = skew(keys), skew(mem)
	if e.g.json {
		e.emit(doc)
	} else {
		table := [][]string{}
		for _, r := range rows {
			st := stOK
			switch {
			case !r.Up:
				st = stDown
			case r.Trouble != "" || r.Error != "":
				st = stWarn
			}
			note := r.Trouble
			if r.Error != "" {
				note = strings.TrimSpace(note + " " + r.Error)
			}
			if !r.Up {
				table = append(table, []string{r.Component, orDash(r.Addr), st, "-", "-", "-", "-", "-", "-", "-", note})
				continue
			}
			table = append(table, []string{r.Component, r.Addr, st, r.Role, fmt.Sprintf("%.2fms", r.RTTms),
				bytesHuman(r.UsedMemory), strconv.FormatInt(r.Keys, 10), strconv.FormatInt(r.Rejected, 10),
				strconv.FormatInt(r.Evicted, 10), orDash(r.Link), note})
		}
		e.table([]string{"SHARD", "ADDRESS", "STATUS", "ROLE", "RTT", "MEMORY", "KEYS", "REJECTED", "EVICTED", "LINK", "NOTE"}, table)
		fmt.Fprintf(e.stdout, "skew (largest / mean, over %d up): keys %s, memory %s\n", doc.Up, skewText(doc.KeysSkew), skewText(doc.MemorySkew))
		if len(doc.Down) > 0 {
			fmt.Fprintf(e.stdout, "down: %s\n", strings.Join(doc.Down, ", "))
		} else {
			fmt.Fprintln(e.stdout, "down: none")
		}
	}
	if len(doc.Down) > 0 {
		return &reported{msg: fmt.Sprintf("%d of %d shards down", len(doc.Down), n)}
	}
	return nil
}

func skew(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var sum, top float64
	for _, x := range v {
		sum += x
		top = max(top, x)
	}
	if sum == 0 {
		return 0
	}
	return top / (sum / float64(len(v)))
}

func skewText(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", x)
}

// shardRowOf asks shard i of component how it is. Only a config server failure is an error; a shard
// that fails is a row.
func shardRowOf(ctx context.Context, s *configStore, component string, i int, timeout time.Duration) (shardRow, error) {
	comp := shard.ShardComponent(component, i)
	row := shardRow{Shard: i, Component: comp}
	st, err := s.load(ctx, comp)
	if err != nil {
		return row, err
	}
	if st.cfg == nil {
		row.Error = errText(st.err)
		return row, nil
	}
	row.Addr = addrOf(st.cfg)
	client, err := st.cfg.NewClient()
	if err != nil {
		row.Error = errText(err)
		return row, nil
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if cc, ok := client.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		masters := 0
		row.Up = true
		err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			p := probe(ctx, m)
			mu.Lock()
			defer mu.Unlock()
			masters++
			merge(&row, p)
			return nil
		})
		if err != nil {
			row.Up, row.Error = false, errText(err)
		}
		row.Role = fmt.Sprintf("cluster (%d masters)", masters)
		return row, nil
	}
	p := probe(ctx, client)
	row.Up = true
	merge(&row, p)
	row.Role, row.Link = p.Role, p.Link
	return row, nil
}

// merge adds one server's answers to a row (a cluster's masters add up).
func merge(row *shardRow, p shardRow) {
	row.Up = row.Up && p.Up
	row.RTTms = max(row.RTTms, p.RTTms)
	row.UsedMemory += p.UsedMemory
	row.Keys += p.Keys
	row.Rejected += p.Rejected
	row.Evicted += p.Evicted
	row.Trouble = strings.TrimSpace(row.Trouble + " " + p.Trouble)
	row.Error = strings.TrimSpace(row.Error + " " + p.Error)
}

// probe asks one server: PING, INFO replication (through the sync package), INFO memory and stats,
// DBSIZE of the client's database.
func probe(ctx context.Context, c redis.UniversalClient) shardRow {
	var p shardRow
	start := time.Now()
	if err := c.Ping(ctx).Err(); err != nil {
		p.Error = errText(err)
		return p
	}
	p.Up, p.RTTms = true, float64(time.Since(start).Microseconds())/1000
	var problems []string
	if rep, err := riasync.ReadReplication(ctx, c); err != nil {
		problems = append(problems, errText(err))
	} else {
		p.Role = rep.Role
		if rep.Role == "slave" {
			p.Role = "replica"
			p.Link = "master link down"
			if rep.LinkUp {
				p.Link = "master link up"
			} else {
				p.Trouble = "replication link down;"
			}
			if rep.Syncing {
				p.Trouble += " full sync running;"
			}
		} else {
			p.Link = fmt.Sprintf("%d replicas", rep.Replicas)
		}
	}
	if info, err := c.InfoMap(ctx, "memory", "stats").Result(); err != nil {
		problems = append(problems, "INFO: "+errText(err))
	} else {
		flat := map[string]string{}
		for _, sec := range info {
			for k, v := range sec {
				flat[k] = v
			}
		}
		num := func(k string) int64 { n, _ := strconv.ParseInt(flat[k], 10, 64); return n }
		p.UsedMemory, p.Rejected, p.Evicted = num("used_memory"), num("rejected_connections"), num("evicted_keys")
		if p.Rejected > 0 {
			p.Trouble += " connections rejected;"
		}
		if p.Evicted > 0 {
			p.Trouble += " keys evicted;"
		}
	}
	if n, err := c.DBSize(ctx).Result(); err != nil {
		problems = append(problems, "DBSIZE: "+errText(err))
	} else {
		p.Keys = n
	}
	p.Trouble = strings.TrimSuffix(strings.TrimSpace(p.Trouble), ";")
	p.Error = strings.Join(problems, "; ")
	return p
}
