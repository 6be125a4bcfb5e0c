package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/shard"
	"github.com/ria-go/ria/shard/hostset"
)

type routeDoc struct {
	Key    string     `json:"key"`
	Routes []routeRow `json:"routes"`
}

func routeOf(t *testing.T, h *harness, code int, args ...string) map[string]routeRow {
	t.Helper()
	r := h.want(code, append([]string{"route", "--json"}, args...)...)
	var doc routeDoc
	decode(t, r.stdout, &doc)
	out := map[string]routeRow{}
	for _, row := range doc.Routes {
		out[row.Scheme] = row
	}
	return out
}

// Property: for random keys and sizes, every row is the library's answer.
func TestRouteAgreesWithTheLibrary(t *testing.T) {
	h := newHarness(t)
	rng := rand.New(rand.NewPCG(31, 32))
	alphabet := []rune("0123456789abz:{}é١漢")
	for i := 0; i < 25; i++ {
		rs := make([]rune, 1+rng.IntN(8))
		for j := range rs {
			rs[j] = alphabet[rng.IntN(len(alphabet))]
		}
		key := string(rs)
		total, size, shards, hosts := 1+rng.IntN(100000), 1+rng.IntN(1024), 1+rng.IntN(32), 1+rng.IntN(32)
		rows := routeOf(t, h, exitOK, "--base", "b", "--total", strconv.Itoa(total), "--size", strconv.Itoa(size),
			"--shards", strconv.Itoa(shards), "--hosts", strconv.Itoa(hosts), "--", key)
		for _, mode := range []shard.HashMode{shard.Python3, shard.Python2} {
			want, err := shard.Key("b", key, total, size, mode)
			got := rows["shard_key "+mode.String()]
			if (err != nil) != (got.Error != "") || (err == nil && got.Result != want) {
				t.Fatalf("%q %v: row %+v; library %s, %v", key, mode, got, want, err)
			}
		}
		comp, err := shard.Component("unique", key, shards)
		if got := rows["sharded connection"]; (err != nil) != (got.Error != "") || got.Result != comp {
			t.Fatalf("%q: sharded connection %+v; library %s, %v", key, got, comp, err)
		}
		p, _ := hostset.NewPartition(hosts)
		if got := rows["rb partition"].Result; got != "host "+strconv.Itoa(p.HostForKey(key)) {
			t.Fatalf("%q: partition %s; library %d", key, got, p.HostForKey(key))
		}
		ch, _ := hostset.NewConsistentHash(hosts)
		if got := rows["rb consistent hash"].Result; got != "host "+strconv.Itoa(ch.HostForKey(key)) {
			t.Fatalf("%q: ring %s; library %d", key, got, ch.HostForKey(key))
		}
		if got := rows["redis cluster"].Result; got != "slot "+strconv.Itoa(shard.Slot(key)) {
			t.Fatalf("%q: slot %s; library %d", key, got, shard.Slot(key))
		}
	}
}

// The book's vectors, the explanation, a key latin-1 cannot hold, and the shard's address.
func TestRouteExplains(t *testing.T) {
	h := newHarness(t)
	cfg, _ := dataDB(t)
	comp, _ := shard.Component("unique", "héllo", 16)
	h.store(comp, cfg)
	r := h.want(exitOK, "route", "héllo", "--base", "b", "--total", "1000", "--size", "3")
	contains(t, r, "b:289", "b:214", "crc32(latin-1 key) = ", "mod 666 = 289", shared.data.Addr(), comp)
	rows := routeOf(t, h, exitOK, "12345", "--size", "512")
	if !strings.Contains(rows["shard_key python3"].How, "decimal key: 12345 // 512 = 24") {
		t.Fatalf("decimal key: %+v", rows["shard_key python3"])
	}
	rows = routeOf(t, h, exitOK, "{user:1}:cart")
	if !strings.Contains(rows["redis cluster"].How, `hash tag "user:1"`) {
		t.Fatalf("hash tag: %+v", rows["redis cluster"])
	}
	rows = routeOf(t, h, exitOK, "漢")
	if !strings.Contains(rows["shard_key python3"].Error, "UnicodeEncodeError") || rows["shard_key python2"].Error != "" ||
		rows["sharded connection"].Error == "" || rows["rb partition"].Result == "" {
		t.Fatalf("a key beyond latin-1: %+v", rows)
	}
	if got := rows["sharded connection"].Addr; got != "" {
		t.Fatalf("a refused key got an address: %q", got)
	}
	rows = routeOf(t, h, exitOK, "foo", "--shards", "2", "--component", "nothing")
	if rows["sharded connection"].Addr != "no config" {
		t.Fatalf("no config: %+v", rows["sharded connection"])
	}
}

// With --component naming a cluster config, the slot's row names the master serving it.
func TestRouteClusterNode(t *testing.T) {
	h := newHarness(t)
	cl := redistest.RunClusterT(t, &redistest.ClusterOptions{Masters: 3, ReplicasPerMaster: -1})
	h.store("sessions", fmt.Sprintf(`{"cluster": [%q]}`, cl.Addrs()[0]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, key := range []string{"a", "b", "c", "{user:1}:cart"} {
		node, err := cl.NodeForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		rows := routeOf(t, h, exitOK, key, "--component", "sessions")
		if got := rows["redis cluster"].Addr; !strings.HasPrefix(got, node.Addr()+" (sessions)") {
			t.Fatalf("%q: cluster row addr %q; want %s", key, got, node.Addr())
		}
	}
}
