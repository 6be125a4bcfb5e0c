package main

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/shard/hostset"
	"github.com/ria-go/ria/uniquevisits"
)

type routeRow struct {
	Scheme string `json:"scheme"`
	Result string `json:"result,omitempty"`
	How    string `json:"how"`
	Addr   string `json:"addr,omitempty"`
	Error  string `json:"error,omitempty"`
}

func routeCmd() *command {
	var total, size, shards, hosts int
	var base, component string
	return &command{
		path: "route", args: "KEY", min: 1, max: 1,
		summary: "where KEY goes under every scheme, and how each was computed",
		detail: `Rows: the book's shard_key (9.2) in the Python3 and Python2 modes (--base, --total, --size); the
sharded connection of 10.2 (--component, --shards), with that shard's address from the config
store; rb's partition and consistent-hash routers over --hosts hosts; the Redis Cluster slot, and
the node serving it when --component (or its shard) has a cluster config. A KEY starting with
"-" goes after "--".`,
		setup: func(fs *flag.FlagSet) action {
			fs.IntVar(&total, "total", uniquevisits.DailyExpected, fmt.Sprintf("shard_key's total_elements, 1 to %d", maxTotal))
			fs.IntVar(&size, "size", uniquevisits.ShardSize, fmt.Sprintf("shard_key's shard_size, 1 to %d", maxSize))
			fs.StringVar(&base, "base", "", `shard_key's base (empty: "unique:<today>", as count_visit)`)
			fs.StringVar(&component, "component", uniquevisits.Component, "the sharded connection's component")
			fs.IntVar(&shards, "shards", uniquevisits.Shards, fmt.Sprintf("the sharded connection's shard count, 1 to %d", maxShards))
			fs.IntVar(&hosts, "hosts", uniquevisits.Shards, fmt.Sprintf("hosts of the rb-style routers, 1 to %d", maxHosts))
			return func(ctx context.Context, e *env, args []string) error {
				for _, f := range []struct {
					name  string
					v, hi int
				}{{"total", total, maxTotal}, {"size", size, maxSize}, {"shards", shards, maxShards}, {"hosts", hosts, maxHosts}} {
					if err := inRange(f.name, f.v, 1, f.hi); err != nil {
						return err
					}
				}
				if base == "" {
					base = "unique:" + uniquevisits.Day(time.Now())
				}
				return route(ctx, e, args[0], base, component, total, size, shards, hosts)
			}
		},
	}
}

func route(ctx context.Context, e *env, key, base, component string, total, size, shards, hosts int) error {
	var rows []routeRow
	for _, mode := range []shard.HashMode{shard.Python3, shard.Python2} {
		r := routeRow{Scheme: "shard_key " + mode.String()}
		kr, err := shard.ExplainKey(key, total, size, mode)
		switch {
		case err != nil:
			r.How, r.Error = "refused", routeErr(err)
		case kr.Numeric:
			r.Result = base + ":" + kr.ID
			r.How = fmt.Sprintf("decimal key: %s // %d = %s", kr.Digits, size, kr.ID)
		default:
			r.Result = base + ":" + kr.ID
			r.How = fmt.Sprintf("%s = %d; mod %d = %s (2*%d // %d shards)", crcName(mode, "key"), kr.CRC32, kr.Shards, kr.ID, total, size)
		}
		rows = append(rows, r)
	}

	conn0 := routeRow{Scheme: "sharded connection"}
	comp, err := shard.Component(component, key, shards)
	if err != nil {
		conn0.How, conn0.Error = "refused", routeErr(err)
	} else {
		sum, _ := shard.Checksum("x"+key, shard.Python3)
		conn0.Result = comp
		conn0.How = fmt.Sprintf(`crc32(latin-1 "x"+key) = %d; mod %d = %d`, sum, shards, sum%int64(shards))
	}
	rows = append(rows, conn0)

	part := routeRow{Scheme: "rb partition"}
	p, err := hostset.NewPartition(hosts)
	if err == nil {
		h := p.HostForKey(key)
		sum, _ := shard.Checksum(key, shard.Python2)
		part.Result = "host " + strconv.Itoa(h)
		part.How = fmt.Sprintf("%s = %d; mod %d = %d (rb PartitionRouter)", crcName(shard.Python2, "key"), sum, hosts, h)
	} else {
		part.Error = errText(err)
	}
	rows = append(rows, part)

	ring := routeRow{Scheme: "rb consistent hash"}
	ch, err := hostset.NewConsistentHash(hosts)
	if err == nil {
		d := md5.Sum([]byte(key))
		ring.Result = "host " + strconv.Itoa(ch.HostForKey(key))
		ring.How = fmt.Sprintf("ketama: md5(key)[0:4] LE = %d; next of %d ring points (hosts named 0..%d)",
			binary.LittleEndian.Uint32(d[:4]), 160*hosts, hosts-1)
	} else {
		ring.Error = errText(err)
	}
	rows = append(rows, ring)

	slot := shard.Slot(key)
	sl := routeRow{Scheme: "redis cluster", Result: "slot " + strconv.Itoa(slot)}
	if tag := shard.HashTag(key); tag != key {
		sl.How = fmt.Sprintf("crc16(hash tag %q) mod 16384 = %d", tag, slot)
	} else {
		sl.How = fmt.Sprintf("crc16(key) mod 16384 = %d", slot)
	}
	rows = append(rows, sl)

	// Addresses from the config store, when it answers.
	var failed error
	s, err := e.store()
	if err != nil {
		return err
	}
	lookup := func(name string) (stored, bool) {
		st, err := s.load(ctx, name)
		if err != nil {
			failed = err
			rows[2].Error = errText(err)
			return st, false
		}
		return st, st.cfg != nil
	}
	var clusterCfg *conn.Config
	var clusterFrom string
	if comp != "" {
		st, ok := lookup(comp)
		switch {
		case ok:
			rows[2].Addr = addrOf(st.cfg)
			if st.cfg.Kind == conn.KindCluster {
				clusterCfg, clusterFrom = st.cfg, comp
			}
		case st.missing:
			rows[2].Addr = "no config"
		case st.err != nil && rows[2].Error == "":
			rows[2].Error = errText(st.err)
		}
	}
	if failed == nil {
		if st, ok := lookup(component); ok && st.cfg.Kind == conn.KindCluster {
			clusterCfg, clusterFrom = st.cfg, component
		}
	}
	if clusterCfg != nil {
		addr, err := clusterNode(ctx, clusterCfg, key)
		if err != nil {
			failed = err
			rows[len(rows)-1].Error = fmt.Sprintf("%s: %s", clusterFrom, errText(err))
		} else {
			rows[len(rows)-1].Addr = addr + " (" + clusterFrom + ")"
		}
	}
	if e.g.json {
		e.emit(map[string]any{"key": key, "routes": rows})
	} else {
		fmt.Fprintf(e.stdout, "key %q\n", key)
		table := [][]string{}
		for _, r := range rows {
			res := r.Result
			if r.Error != "" && res == "" {
				res = stFail
			}
			where := r.Addr
			if r.Error != "" {
				where = r.Error
			}
			table = append(table, []string{r.Scheme, orDash(res), r.How, where})
		}
		e.table([]string{"SCHEME", "RESULT", "HOW", "WHERE"}, table)
	}
	if failed != nil {
		return &reported{msg: "some addresses could not be looked up", cause: failed}
	}
	return nil
}

func crcName(mode shard.HashMode, what string) string {
	if mode == shard.Python2 {
		return "signed crc32(utf-8 " + what + ")"
	}
	return "crc32(latin-1 " + what + ")"
}

func routeErr(err error) string {
	if errors.Is(err, shard.ErrNotLatin1) {
		return errText(err) + " (the book's Python 3 raises UnicodeEncodeError)"
	}
	return errText(err)
}

// clusterNode asks a cluster which master serves key's slot.
func clusterNode(ctx context.Context, cfg *conn.Config, key string) (string, error) {
	c, err := cfg.NewClient()
	if err != nil {
		return "", err
	}
	defer c.Close()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return "", errors.New("not a cluster client")
	}
	m, err := cc.MasterForKey(ctx, key)
	if err != nil {
		return "", err
	}
	return m.Options().Addr, nil
}
