package hostset

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// wireKeys are key arguments whose bytes on the wire differ from fmt.Sprint's.
func wireKeys() []any {
	ts := time.Date(2024, 3, 1, 12, 30, 0, 123456789, time.FixedZone("x", 3600))
	u := uuid.MustParse("6a1f0a42-0d23-4d6e-9a4c-4ab3e5c6f1d2")
	big := uint64(math.MaxUint64)
	return []any{float64(1e21), 1e-7, -1e21, float32(0.1), math.Copysign(0, -1), u, true, false, ts,
		90 * time.Second, net.ParseIP("10.0.0.1"), net.ParseIP("::1"), binBlob{[]byte("blob")}, &big,
		[]byte("raw\x00bytes"), int8(-5), uint16(7), nil, 1e100}
}

// TestRoutingHashesSentBytes: a key of any type that go-redis writes is stored on the host the
// router names for its bytes on the wire, and a GET of those bytes as a string finds it, through
// the routing client, Map, and the MSET/MGET split.
func TestRoutingHashesSentBytes(t *testing.T) {
	ctx := t.Context()
	hs, minis, _ := miniHosts(t, 5, nil)
	rc := hs.Routing()
	differs := 0
	seen := map[string]bool{}
	for i, k := range wireKeys() {
		wire, err := wireArg(k)
		if err != nil || seen[wire] {
			t.Fatalf("wire key %T %v: %q, %v; want distinct keys", k, k, wire, err)
		}
		seen[wire] = true
		if hs.HostForKey(fmt.Sprint(k)) != hs.HostForKey(wire) {
			differs++
		}
		val := fmt.Sprint("v", i)
		if err := rc.Do(ctx, "set", k, val).Err(); err != nil {
			t.Fatalf("SET %T %v: %v", k, k, err)
		}
		host := hs.HostForKey(wire)
		for id, m := range minis {
			got, _ := m.Get(wire)
			if (id == host) != (got == val) {
				t.Errorf("key %T %v (%q): host %d holds %q; want it only on host %d", k, k, wire, id, got, host)
			}
		}
		if got, err := rc.Get(ctx, wire).Result(); err != nil || got != val {
			t.Errorf("GET %q (%T %v) = %q, %v; want %q", wire, k, k, got, err, val)
		}
		if err := rc.Do(ctx, "del", k).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if differs == 0 {
		t.Fatal("no key routes differently by fmt.Sprint; the test would not catch hashing the wrong bytes")
	}

	// Map with auto-batching, and the split of MSET and MGET.
	keys := wireKeys()
	var msetArgs []any
	for i, k := range keys {
		msetArgs = append(msetArgs, k, i)
	}
	err := hs.Map(ctx, func(p redis.Pipeliner) error {
		p.MSet(ctx, msetArgs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// GETs of the wire strings, and GETs made with the original arguments: both runs are batched.
	gets := map[string]*redis.StringCmd{}
	raw := map[string]*redis.StringCmd{}
	err = hs.Map(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			wire, _ := wireArg(k)
			gets[wire] = p.Get(ctx, wire)
		}
		for _, k := range keys {
			wire, _ := wireArg(k)
			raw[wire] = redis.NewStringCmd(ctx, "get", k)
			_ = p.Process(ctx, raw[wire])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mget := redis.NewSliceCmd(ctx, append([]any{"mget"}, keys...)...)
	_ = rc.Process(ctx, mget)
	vals, err := mget.Result()
	if err != nil || len(vals) != len(keys) {
		t.Fatalf("MGET split = %v, %v", vals, err)
	}
	for i, k := range keys {
		wire, _ := wireArg(k)
		if got, _ := minis[hs.HostForKey(wire)].Get(wire); got != strconv.Itoa(i) {
			t.Errorf("MSET key %T %v: host %d holds %q; want %d", k, k, hs.HostForKey(wire), got, i)
		}
		if v, err := gets[wire].Result(); err != nil || v != strconv.Itoa(i) {
			t.Errorf("Map GET %q = %q, %v; want %d", wire, v, err, i)
		}
		if v, err := raw[wire].Result(); err != nil || v != strconv.Itoa(i) {
			t.Errorf("Map GET %T %v = %q, %v; want %d", k, k, v, err, i)
		}
		if vals[i] != strconv.Itoa(i) {
			t.Errorf("MGET %T %v = %v; want %d", k, k, vals[i], i)
		}
	}
}

// TestRoutingRefusesBadArgs: a command with an argument go-redis cannot write is refused with
// ErrBadArg, names the argument, is never sent, and does not fail the other commands of its host.
func TestRoutingRefusesBadArgs(t *testing.T) {
	ctx := t.Context()
	hs, minis, rec := miniHosts(t, 2, nil)
	rc := hs.Routing()
	for _, args := range [][]any{
		{"set", namedString("k"), "v"},
		{"set", "k", struct{ X int }{1}},
		{"set", failingMarshaler{}, "v"},
		{"set", (*uuid.UUID)(nil), "v"},
		{"mset", "a", "1", []string{"b"}, "2"},
		{"del", "a", make(chan int)},
		{namedString("get"), "k"},
	} {
		err := rc.Do(ctx, args...).Err()
		var ae *ArgError
		if !errors.Is(err, ErrBadArg) || !errors.Is(err, ErrUnroutable) || !errors.As(err, &ae) || ae.Pos < 0 || ae.Pos >= len(args) {
			t.Errorf("%v: %v; want ErrBadArg and ErrUnroutable with an *ArgError", args, err)
			continue
		}
		if want := fmt.Sprintf("%T", args[ae.Pos]); ae.Type != want || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: error names %s (%v); want %s", args, ae.Type, err, want)
		}
	}
	for id := range minis {
		if sent := rec.names(id); len(sent) != 0 {
			t.Errorf("host %d received %v; want nothing", id, sent)
		}
	}
	// In a Map, the other commands of the same host still run.
	var bad *redis.Cmd
	var good []*redis.StatusCmd
	err := hs.Map(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < 10; i++ {
			good = append(good, p.Set(ctx, fmt.Sprint("k", i), i, 0))
		}
		bad = p.Do(ctx, "set", "k0", struct{}{})
		return nil
	})
	if !errors.Is(err, ErrBadArg) || !errors.Is(bad.Err(), ErrBadArg) {
		t.Errorf("Map: %v, bad command %v; want ErrBadArg", err, bad.Err())
	}
	for i, g := range good {
		if g.Err() != nil {
			t.Errorf("SET k%d beside a refused command: %v", i, g.Err())
		}
	}
	// Fanout refuses the command, sends the others.
	var fbad *redis.Cmd
	var fok *redis.StatusCmd
	err = hs.Fanout(ctx, []int{1}, func(_ int, p redis.Pipeliner) error {
		fbad = p.Do(ctx, "echo", namedString("x"))
		fok = p.Ping(ctx)
		return nil
	})
	if !errors.Is(err, ErrBadArg) || !errors.Is(fbad.Err(), ErrBadArg) || fok.Err() != nil {
		t.Errorf("Fanout: %v, bad %v, ping %v; want ErrBadArg on the bad command only", err, fbad.Err(), fok.Err())
	}
}
