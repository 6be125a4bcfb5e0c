package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
)

// Four shards, one killed, one paused: both are rows marked down, the others are measured, the skew
// is computed over the shards that are up, and the exit status is 1.
func TestShardsStatusDownShard(t *testing.T) {
	h := newHarness(t)
	g := redistest.RunShardsT(t, 4, nil)
	ctx := context.Background()
	for i, s := range g {
		h.store(fmt.Sprintf("uv:%d", i), fmt.Sprintf(`{"addr": %q}`, s.Addr()))
		c := s.Client(t)
		for k := 0; k < (i+1)*10; k++ {
			c.Set(ctx, fmt.Sprintf("k%d", k), "v", 0)
		}
	}
	h.want(exitOK, "shards", "status", "uv")

	if err := g[3].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := g[2].Pause(); err != nil {
		t.Fatal(err)
	}
	defer g[2].Resume()
	r := h.want(exitFail, "shards", "status", "uv", "--json", "--ping-timeout", "300ms")
	var doc shardsDoc
	decode(t, r.stdout, &doc)
	if len(doc.Shards) != 4 || doc.Up != 2 || strings.Join(doc.Down, ",") != "uv:2,uv:3" {
		t.Fatalf("status: %+v", doc)
	}
	for i, want := range []int64{10, 20} {
		s := doc.Shards[i]
		if !s.Up || s.Keys != want || s.Role != "master" || s.UsedMemory <= 0 || s.RTTms <= 0 || s.Addr != g[i].Addr() {
			t.Fatalf("shard %d: %+v", i, s)
		}
	}
	if got, want := doc.KeysSkew, 20.0/15.0; got < want-1e-9 || got > want+1e-9 {
		t.Fatalf("keys skew %v; want %v", got, want)
	}
	if doc.MemorySkew < 1 {
		t.Fatalf("memory skew %v", doc.MemorySkew)
	}
	if doc.Shards[3].Error == "" || doc.Shards[2].Error == "" {
		t.Fatalf("down shards without their error: %+v", doc.Shards[2:])
	}
	r = h.want(exitFail, "shards", "status", "uv", "--ping-timeout", "300ms")
	contains(t, r, "down: uv:2, uv:3", "skew (largest / mean, over 2 up): keys 1.33x", "2 of 4 shards down", stDown)

	// --shards beyond the stored ones: the missing config is a down row too.
	r = h.want(exitFail, "shards", "status", "uv", "--shards", "5", "--ping-timeout", "300ms")
	contains(t, r, "no config stored at "+h.prefix+"uv:4")
	r = h.want(exitFail, "shards", "status", "none")
	contains(t, r, "no shard configs stored for none", "--shards N")
}

// A replica shard shows its link, and a broken link is trouble, not a down shard.
func TestShardsStatusReplicaLink(t *testing.T) {
	h := newHarness(t)
	rp := redistest.RunReplicatedT(t, nil)
	h.store("r:0", fmt.Sprintf(`{"addr": %q}`, rp.Master.Addr()))
	h.store("r:1", fmt.Sprintf(`{"addr": %q}`, rp.Replica.Addr()))
	r := h.want(exitOK, "shards", "status", "r")
	contains(t, r, "1 replicas", "replica", "master link up")
	if err := rp.Master.Kill(); err != nil {
		t.Fatal(err)
	}
	var doc shardsDoc
	for range 100 { // the replica notices the closed link at once; allow it a moment
		r = h.want(exitFail, "shards", "status", "r", "--json")
		decode(t, r.stdout, &doc)
		if strings.Contains(doc.Shards[1].Trouble, "link down") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if doc.Shards[0].Up || !doc.Shards[1].Up || !strings.Contains(doc.Shards[1].Trouble, "replication link down") {
		t.Fatalf("after the master died: %+v", doc.Shards)
	}
}
