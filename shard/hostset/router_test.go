package hostset

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ria-go/ria/shard"
)

func TestPartitionRouter(t *testing.T) {
	p, err := NewPartition(3)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"foo": 1, "bar": 2, "baz": 0} { // rb's test_router_basics
		if got := p.HostForKey(key); got != want {
			t.Errorf("HostForKey(%q) = %d; want %d", key, got, want)
		}
	}
	p3, _ := NewPartitionMode(3, shard.Python3)
	if got := p3.HostForKey("foo"); got != 2 {
		t.Errorf("shard.Python3 HostForKey(foo) = %d; want 2", got)
	}
	if _, err := NewPartition(0); !errors.Is(err, shard.ErrBadShards) || !errors.Is(err, ErrBadHosts) {
		t.Errorf("NewPartition(0) error %v; want ErrBadHosts and shard.ErrBadShards", err)
	}
	if _, err := NewPartitionMode(2, shard.HashMode(-1)); !errors.Is(err, shard.ErrBadMode) {
		t.Errorf("NewPartitionMode(bad mode) error %v; want shard.ErrBadMode", err)
	}
}

// TestPartitionNotLatin1: a Python3 Partition refuses a key the book's Python 3 shard_key cannot
// encode, with shard's *EncodeError at the character's byte offset, and HostForKey gives -1.
func TestPartitionNotLatin1(t *testing.T) {
	p3, _ := NewPartitionMode(4, shard.Python3)
	for key, want := range map[string]shard.EncodeError{
		"中文": {Pos: 0, Rune: '中'}, "h€llo": {Pos: 1, Rune: '€'}, "aĀ": {Pos: 1, Rune: 'Ā'},
		"héllo wörld ☃": {Pos: 14, Rune: '☃'}, "①": {Pos: 0, Rune: '①'}, "ab\xffc": {Pos: 2, Rune: utf8.RuneError, Invalid: true},
	} {
		if id := p3.HostForKey(key); id != -1 {
			t.Errorf("Python3 Partition.HostForKey(%q) = %d; want -1", key, id)
		}
		_, err := p3.CheckedHostForKey(key)
		var ee *shard.EncodeError
		if !errors.Is(err, shard.ErrNotLatin1) || !errors.As(err, &ee) || *ee != want {
			t.Errorf("CheckedHostForKey(%q): %v; want %+v", key, err, want)
		}
	}
}

// TestPartitionProperty: for random keys (any bytes) and host counts, Partition routes as
// shard.Index computes in its mode, HostForKey and CheckedHostForKey agree, and every answer is a
// host id; a key Index refuses is refused the same way.
func TestPartitionProperty(t *testing.T) {
	state := uint64(time.Now().UnixNano())
	t.Logf("rand.NewPCG(%d, ...)", state)
	r := rand.New(rand.NewPCG(state, 7))
	for i := 0; i < 5000; i++ {
		b := make([]byte, r.IntN(20))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		key, n := string(b), 1+r.IntN(1000)
		for _, mode := range []shard.HashMode{shard.Python3, shard.Python2} {
			p, err := NewPartitionMode(n, mode)
			if err != nil {
				t.Fatal(err)
			}
			want, werr := shard.Index(key, n, mode)
			got, err := p.CheckedHostForKey(key)
			if got != want || (err == nil) != (werr == nil) || (err == nil && (got < 0 || got >= n)) {
				t.Fatalf("%v Partition(%d).CheckedHostForKey(%q) = %d, %v; want %d, %v", mode, n, key, got, err, want, werr)
			}
			if h := p.HostForKey(key); (err == nil && h != got) || (err != nil && h != -1) {
				t.Fatalf("%v Partition(%d).HostForKey(%q) = %d; want %d (err %v)", mode, n, key, h, got, err)
			}
		}
	}
}

// ketamaNodes are rb's test_ketama nodes (6008 listed before 6007, as there).
func ketamaNodes(skip string) []Node {
	var nodes []Node
	for i, port := range []int{6000, 6001, 6002, 6003, 6004, 6005, 6006, 6008, 6007} {
		name := fmt.Sprintf("192.168.0.1:%d", port)
		if name != skip {
			nodes = append(nodes, Node{Host: i, Name: name, Weight: 1})
		}
	}
	return nodes
}

func TestConsistentHashRBVectors(t *testing.T) {
	names := map[int]string{}
	for _, n := range ketamaNodes("") {
		names[n.Host] = n.Name
	}
	check := func(r *ConsistentHash, want []string) {
		t.Helper()
		for i, key := range []string{"Apple", "Hello", "Data", "Computer"} {
			if got := names[r.HostForKey(key)]; got != want[i] {
				t.Errorf("HostForKey(%q) = %s; want %s", key, got, want[i])
			}
		}
	}
	r, err := NewConsistentHashNodes(ketamaNodes(""))
	if err != nil {
		t.Fatal(err)
	}
	check(r, []string{"192.168.0.1:6002", "192.168.0.1:6007", "192.168.0.1:6004", "192.168.0.1:6004"})
	r2, _ := NewConsistentHashNodes(ketamaNodes("192.168.0.1:6007"))
	check(r2, []string{"192.168.0.1:6002", "192.168.0.1:6000", "192.168.0.1:6004", "192.168.0.1:6004"})
}

func TestConsistentHashMovesFewKeys(t *testing.T) {
	r4, _ := NewConsistentHash(4)
	r5, _ := NewConsistentHash(5)
	const n = 20000
	moved := 0
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("key:%d", i)
		a, b := r4.HostForKey(k), r5.HostForKey(k)
		if a != b {
			moved++
			if b != 4 {
				t.Fatalf("key %q moved from %d to %d; only moves to the new host 4 are expected", k, a, b)
			}
		}
	}
	// Ideal: 1/5 of the keys move. A partition router moves 4/5.
	if moved < n/10 || moved > n*3/10 {
		t.Errorf("adding a 5th host moved %d of %d keys; want about %d", moved, n, n/5)
	}
}

func TestConsistentHashWeights(t *testing.T) {
	r, err := NewConsistentHashNodes([]Node{{Host: 0, Weight: 1}, {Host: 1, Weight: 1}, {Host: 2, Weight: 2}})
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 3)
	for i := 0; i < 40000; i++ {
		counts[r.HostForKey(fmt.Sprintf("k%d", i))]++
	}
	// Host 2 has half the weight; with 160 points in all the split is rough, not exact.
	if share := float64(counts[2]) / 40000; share < 0.38 || share > 0.62 {
		t.Errorf("weight-2 host got %.2f of the keys (%v); want about 0.5", share, counts)
	}
}

func TestConsistentHashBadInput(t *testing.T) {
	for name, nodes := range map[string][]Node{
		"none":             nil,
		"negative host":    {{Host: -1, Weight: 1}},
		"negative weight":  {{Host: 0, Weight: -2}},
		"zero weight":      {{Host: 0, Weight: 1}, {Host: 1}},
		"min int weight":   {{Host: 0, Weight: math.MinInt}},
		"weights overflow": {{Host: 0, Weight: math.MaxInt}, {Host: 1, Weight: 1}},
		"duplicate name":   {{Host: 0, Name: "a", Weight: 1}, {Host: 1, Name: "a", Weight: 1}},
	} {
		if _, err := NewConsistentHashNodes(nodes); !errors.Is(err, ErrBadHosts) {
			t.Errorf("%s: error %v; want ErrBadHosts", name, err)
		}
	}
	if _, err := NewConsistentHashNodes([]Node{{Host: 3, Name: "cache-3", Weight: 0}}); err == nil ||
		!strings.Contains(err.Error(), "weight 0") || !strings.Contains(err.Error(), "cache-3") {
		t.Errorf("zero weight error %v; want it to name the node and its weight", err)
	}
	if _, err := NewConsistentHash(0); !errors.Is(err, shard.ErrBadShards) || !errors.Is(err, ErrBadHosts) {
		t.Errorf("NewConsistentHash(0) error %v; want ErrBadHosts and shard.ErrBadShards", err)
	}
}

// TestConsistentHashLightNode: with weights 1:1000 rb's formula gives host 0 no point; here it keeps
// one, so a key reaches it, and a Hosts over the ring is accepted.
func TestConsistentHashLightNode(t *testing.T) {
	r, err := NewConsistentHashNodes([]Node{{Host: 0, Weight: 1}, {Host: 1, Weight: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	checkReachable(t, r, 2)
	if err := checkRouter(r, 2); err != nil {
		t.Errorf("checkRouter: %v", err)
	}
}

// checkReachable asserts that every host 0..n-1 owns a point p of the ring, and that a key hashing
// just below p goes to it.
func checkReachable(t *testing.T, r *ConsistentHash, n int) {
	t.Helper()
	for id := 0; id < n; id++ {
		found := false
		for _, p := range r.points {
			if r.owner[p] == id {
				if got := r.hostForHash(p - 1); got != id {
					t.Fatalf("a hash just below host %d's point %d goes to host %d", id, p, got)
				}
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("host %d has no point on the ring (%d points)", id, len(r.points))
		}
	}
}

// TestConsistentHashWeightsProperty: for random weight vectors, every node of positive weight is
// reachable and New accepts the ring; a vector with a weight of 0 or less is refused.
func TestConsistentHashWeightsProperty(t *testing.T) {
	state := uint64(time.Now().UnixNano())
	t.Logf("rand.NewPCG(%d, ...)", state)
	rnd := rand.New(rand.NewPCG(state, 11))
	for i := 0; i < 300; i++ {
		n := 1 + rnd.IntN(12)
		nodes := make([]Node, n)
		for j := range nodes {
			w := 1 + rnd.IntN(10)
			switch rnd.IntN(4) {
			case 0:
				w = 1 + rnd.IntN(1_000_000)
			case 1:
				w = 1 << rnd.IntN(50)
			}
			nodes[j] = Node{Host: j, Weight: w}
		}
		rnd.Shuffle(n, func(a, b int) { nodes[a], nodes[b] = nodes[b], nodes[a] })
		r, err := NewConsistentHashNodes(nodes)
		if err != nil {
			t.Fatalf("weights %v: %v", nodes, err)
		}
		checkReachable(t, r, n)
		if err := checkRouter(r, n); err != nil {
			t.Fatalf("weights %v: checkRouter: %v", nodes, err)
		}
		k := rnd.IntN(n)
		nodes[k].Weight = -rnd.IntN(3)
		if _, err := NewConsistentHashNodes(nodes); !errors.Is(err, ErrBadHosts) || !strings.Contains(err.Error(), "weight") {
			t.Fatalf("weights %v: %v; want ErrBadHosts for weight %d", nodes, err, nodes[k].Weight)
		}
	}
}
