package hostset

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"

	"github.com/ria-go/ria/shard"
)

// Router picks the host for a key. Hosts are ids 0..n-1. Implementations must be safe for concurrent
// use; Hosts never sends a key to a host other than the one its router returns.
type Router interface {
	HostForKey(key string) int
}

// CheckedRouter is a Router that can refuse a key. Hosts asks CheckedHostForKey when the router
// has it and fails that key's commands with its error; Partition in the shard.Python3 mode refuses a key
// that latin-1 cannot encode (shard.ErrNotLatin1).
type CheckedRouter interface {
	Router
	CheckedHostForKey(key string) (int, error)
}

// Partition is rb's PartitionRouter: crc32(key) % n with rb's signed crc32 and floor modulo (the
// shard.Python2 mode), so Go and rb route every key to the same host id. For 3 hosts, "foo" goes to 1,
// "bar" to 2 and "baz" to 0. Adding a host moves most keys.
type Partition struct {
	n    int
	mode shard.HashMode
}

// NewPartition returns rb's partition router over n hosts.
func NewPartition(n int) (*Partition, error) { return NewPartitionMode(n, shard.Python2) }

// NewPartitionMode returns a partition router with the given hash mode; shard.Python3 gives the
// unsigned crc32 % n of the book's Python 3 functions. Fewer than 1 host is an error wrapping
// ErrBadHosts and shard.ErrBadShards; an unknown mode wraps shard.ErrBadMode.
func NewPartitionMode(n int, mode shard.HashMode) (*Partition, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: %w: %d hosts", ErrBadHosts, shard.ErrBadShards, n)
	}
	if _, err := shard.Index("", n, mode); err != nil { // shard.Index checks the mode
		return nil, err
	}
	return &Partition{n: n, mode: mode}, nil
}

// HostForKey returns the key's host, or -1 for a key the mode cannot hash (shard.Python3 mode, a
// key that latin-1 cannot encode; CheckedHostForKey says why).
func (p *Partition) HostForKey(key string) int {
	id, err := shard.Index(key, p.n, p.mode)
	if err != nil {
		return -1
	}
	return id
}

// CheckedHostForKey returns the key's host, or the *shard.EncodeError of a key the shard.Python3
// mode cannot hash.
func (p *Partition) CheckedHostForKey(key string) (int, error) { return shard.Index(key, p.n, p.mode) }

// ConsistentHash is a ketama ring, the algorithm of rb's ConsistentHashingRouter (rb/ketama.py): each
// node gets floor(40 * nodes * weight / totalWeight) md5 digests of "<name>-<i>-salt" (at least one:
// where rb's formula gives a light node none, as with weights 1:1000, rb never routes to it and here
// it keeps one digest, so every node is reachable), each digest
// giving four points on a 32-bit ring; a key goes to the first point after md5(key)'s first four
// bytes (little-endian), wrapping around. It routes as rb does only when the node names are the ones
// rb hashes: rb hashes the repr of each node's HostInfo, so to share keys with an rb cluster pass those names
// in Node.Name (rb's own test vectors pass that way); the default names "0", "1", ... do not
// reproduce an rb cluster's placement. Adding or removing a node moves only about 1/n of the keys,
// and a node of weight 2 receives about twice the keys of a node of weight 1.
type ConsistentHash struct {
	points []uint32 // sorted
	owner  map[uint32]int
	ids    []int // the nodes' distinct host ids, sorted; New checks them against its hosts
}

// Node is one host of a ConsistentHash: its id, the name hashed onto the ring, and its weight.
type Node struct {
	Host   int    // host id
	Name   string // default: the host id in decimal
	Weight int    // at least 1; 0 or less is refused (ErrBadHosts)
}

// NewConsistentHash builds a ring over hosts 0..n-1 of weight 1, named by their ids. Fewer than 1
// host is an error wrapping ErrBadHosts and shard.ErrBadShards.
func NewConsistentHash(n int) (*ConsistentHash, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: %w: %d hosts", ErrBadHosts, shard.ErrBadShards, n)
	}
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i] = Node{Host: i, Weight: 1}
	}
	return NewConsistentHashNodes(nodes)
}

// NewConsistentHashNodes builds a weighted ring. Names must be distinct and weights at least 1: a
// weight of 0 or less is an error wrapping ErrBadHosts, as is a total weight that overflows an int.
func NewConsistentHashNodes(nodes []Node) (*ConsistentHash, error) {
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%w: no nodes", ErrBadHosts)
	}
	nodes = slices.Clone(nodes)
	seen := map[string]bool{}
	total := 0
	var ids []int
	for i := range nodes {
		n := &nodes[i]
		if n.Host < 0 {
			return nil, fmt.Errorf("%w: node host id %d", ErrBadHosts, n.Host)
		}
		if n.Name == "" {
			n.Name = strconv.Itoa(n.Host)
		}
		if n.Weight < 1 {
			return nil, fmt.Errorf("%w: node %q (host %d) has weight %d; weights must be at least 1", ErrBadHosts, n.Name, n.Host, n.Weight)
		}
		if n.Weight > math.MaxInt-total {
			return nil, fmt.Errorf("%w: total node weight overflows an int", ErrBadHosts)
		}
		if seen[n.Name] {
			return nil, fmt.Errorf("%w: node name %q twice", ErrBadHosts, n.Name)
		}
		seen[n.Name] = true
		total += n.Weight
		ids = append(ids, n.Host)
	}
	slices.Sort(ids)
	r := &ConsistentHash{owner: map[uint32]int{}, ids: slices.Compact(ids)}
	// rb iterates a Python set, so when two nodes' points collide the winner depends on set order;
	// sorting by name makes ours deterministic (a collision is a 1-in-2^32 event per point pair).
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	for _, n := range nodes {
		// floor(40 * nodes * weight / total) in 128 bits; the quotient is at most 40 * nodes.
		hi, lo := bits.Mul64(40*uint64(len(nodes)), uint64(n.Weight))
		q, _ := bits.Div64(hi, lo, uint64(total))
		ks := max(int(q), 1) // a node with weight gets a point, unlike rb's ring
		for i := 0; i < ks; i++ {
			d := md5.Sum([]byte(n.Name + "-" + strconv.Itoa(i) + "-salt"))
			for l := 0; l < 4; l++ {
				p := binary.LittleEndian.Uint32(d[l*4:])
				if _, dup := r.owner[p]; !dup {
					r.points = append(r.points, p)
				}
				r.owner[p] = n.Host
			}
		}
	}
	slices.Sort(r.points)
	// A node's points can all be taken by other nodes' equal points (a 1-in-2^32 event per pair).
	owned := map[int]bool{}
	for _, h := range r.owner {
		owned[h] = true
	}
	for _, id := range r.ids {
		if !owned[id] {
			return nil, fmt.Errorf("%w: host %d has no point on the ring", ErrBadHosts, id)
		}
	}
	return r, nil
}

// HostForKey returns the key's host.
func (r *ConsistentHash) HostForKey(key string) int {
	d := md5.Sum([]byte(key))
	return r.hostForHash(binary.LittleEndian.Uint32(d[:4]))
}

// hostForHash is the owner of the first point after h.
func (r *ConsistentHash) hostForHash(h uint32) int {
	// rb uses bisect (bisect_right): the first point strictly greater than h.
	i := sort.Search(len(r.points), func(i int) bool { return r.points[i] > h })
	if i == len(r.points) {
		i = 0
	}
	return r.owner[r.points[i]]
}
