package uniquevisits

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ria-go/ria/shard"
)

// spellingsOf are the ways one UUID may be written, all accepted by CanonicalSessionID.
func spellingsOf(r *rand.Rand, canonical string) []string {
	mixed := []byte(canonical)
	for i := range mixed {
		if r.IntN(2) == 0 {
			mixed[i] = strings.ToUpper(string(mixed[i]))[0]
		}
	}
	prefix := []byte("urn:uuid:")
	for i := range prefix {
		if r.IntN(2) == 0 {
			prefix[i] = strings.ToUpper(string(prefix[i]))[0]
		}
	}
	return []string{
		canonical,
		strings.ToUpper(canonical),
		string(mixed),
		strings.ReplaceAll(canonical, "-", ""),
		strings.ToUpper(strings.ReplaceAll(canonical, "-", "")),
		"{" + string(mixed) + "}",
		string(prefix) + string(mixed),
	}
}

// TestOneVisitorPerUUID: the book's routing took the server from the session id as spelled, and the
// member from its digits, so one UUID in several spellings counted up to four times on a sharded
// Counter, once with the HyperLogLog. For random UUIDs, every accepted spelling must be one visitor,
// on the server and in the set of its canonical spelling, and the sharded count, the recount and the
// HyperLogLog's (exact at this size on miniredis) must agree.
func TestOneVisitorPerUUID(t *testing.T) {
	ctx := t.Context()
	reg := registry(t)
	miniShards(t, reg)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 7))

	// Five spellings of one UUID: the book's routing, by the raw text, spread them over four servers or more.
	const u = "6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2"
	five := []string{u, strings.ToUpper(u), strings.ReplaceAll(u, "-", ""), "{" + u + "}", "urn:uuid:" + u}
	raw := map[string]bool{}
	for _, sp := range five {
		comp, _ := shard.Component(Component, sp, Shards)
		raw[comp] = true
	}
	if len(raw) < 4 {
		t.Fatalf("the five spellings span %d servers by their raw text; the test needs 4 or more", len(raw))
	}

	for trial := 0; trial < 20; trial++ {
		// A fresh day without a yesterday: DailyExpected sizes it, small so that Recount reads few sets.
		now := day.AddDate(0, 0, 2*trial)
		c := mustNew(t, reg, &Options{Now: fixedClock(now), DailyExpected: 1000})
		n := 1 + r.IntN(10)
		type spelled struct{ sid, canonical string }
		var all []spelled
		for i := 0; i < n; i++ {
			var b [16]byte
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			canonical := uuid.UUID(b).String()
			if trial == 0 && i == 0 {
				canonical = u
			}
			for _, sp := range spellingsOf(r, canonical) {
				all = append(all, spelled{sp, canonical})
			}
		}
		r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		news := map[string]int{}
		for _, s := range all {
			v, err := c.CountVisit(ctx, s.sid)
			if err != nil {
				t.Fatalf("CountVisit(%q): %v", s.sid, err)
			}
			want, _ := shard.Component(Component, s.canonical, Shards)
			id, _ := ParseSessionID(s.canonical)
			if v.Shard != want || v.ID != id {
				t.Errorf("CountVisit(%q) went to %s with id %d; its canonical spelling goes to %s with id %d", s.sid, v.Shard, v.ID, want, id)
			}
			if v.New {
				news[s.canonical]++
			}
			if _, err := c.CountVisitHLL(ctx, s.sid); err != nil {
				t.Fatal(err)
			}
		}
		for canonical, k := range news {
			if k != 1 {
				t.Errorf("%s was new %d times", canonical, k)
			}
		}
		count, err := c.Count(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		recount, err := c.Recount(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		hll, err := c.UniqueHLL(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		if count != int64(n) || recount != int64(n) || hll != int64(n) || len(news) != n {
			t.Errorf("trial %d: %d UUIDs in %d spellings: count %d, recount %d, HyperLogLog %d, new %d; want %d each",
				trial, n, len(all), count, recount, hll, len(news), n)
		}
	}
}
