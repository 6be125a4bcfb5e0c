package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Every count flag has an upper bound, stated in its help line: one more, or a huge count, is bad
// usage (exit 2) naming the bound, before anything is sized by it; the bound itself is accepted.
func TestCountFlagsBounded(t *testing.T) {
	h := newHarness(t)
	help := h.want(exitOK, "help").stdout
	for _, tc := range []struct {
		cmd    []string
		flag   string
		lo, hi int
		fast   bool // the bound itself runs quickly here
	}{
		{[]string{"route", "k"}, "hosts", 1, maxHosts, true},
		{[]string{"route", "k"}, "shards", 1, maxShards, true},
		{[]string{"route", "k"}, "total", 1, maxTotal, true},
		{[]string{"route", "k"}, "size", 1, maxSize, true},
		{[]string{"shards", "status", "c"}, "shards", 0, maxShards, false},
		{[]string{"visits", "count"}, "shards", 1, maxShards, true},
		{[]string{"visits", "count"}, "size", 1, maxSize, true},
		{[]string{"visits", "recount"}, "shards", 1, maxShards, false},
		{[]string{"visits", "recount"}, "size", 1, maxSize, false},
		{[]string{"market", "ls"}, "count", 1, 10000, false},
	} {
		name, _ := lookup(tc.cmd)
		want := fmt.Sprintf("want %d to %d", tc.lo, tc.hi)
		for _, v := range []int{tc.hi + 1, 1 << 40, tc.lo - 1} {
			args := append(append([]string{}, tc.cmd...), "--"+tc.flag, strconv.Itoa(v))
			r := h.run("", args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, want) {
				t.Errorf("ria %s: want exit 2 saying %q, got %s", strings.Join(args, " "), want, r)
			}
		}
		if tc.fast {
			args := append(append([]string{}, tc.cmd...), "--"+tc.flag, strconv.Itoa(tc.hi))
			if r := h.run("", args...); r.code == exitUsage {
				t.Errorf("ria %s: the bound itself refused: %s", strings.Join(args, " "), r)
			}
		}
		line := flagLine(section(help, name.path), tc.flag)
		if !strings.Contains(line, fmt.Sprintf("%d to %d", tc.lo, tc.hi)) {
			t.Errorf("help of %s --%s does not give its bounds: %q", name.path, tc.flag, line)
		}
	}
}

// A shard count found from the stored configs is bounded as --shards is: a stray COMPONENT:<n>
// beyond it is an error naming it, not a row per shard up to n.
func TestShardsStatusFoundCountBounded(t *testing.T) {
	h := newHarness(t)
	cfg, _ := dataDB(t)
	h.store("big:0", cfg)
	h.store(fmt.Sprintf("big:%d", maxShards), cfg)
	h.store("huge:9223372036854775806", cfg)
	r := h.want(exitFail, "shards", "status", "big")
	contains(t, r, fmt.Sprintf("big:%d", maxShards), "pass --shards N")
	r = h.want(exitFail, "shards", "status", "huge")
	contains(t, r, "huge:9223372036854775806", "pass --shards N")
	r = h.want(exitOK, "shards", "status", "big", "--shards", "1")
	contains(t, r, "big:0", "down: none")
}
