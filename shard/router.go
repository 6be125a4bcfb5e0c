package shard

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strconv"
)

// Router picks the host for a key. Hosts are ids 0..n-1. Implementations must be safe for concurrent
// use; the cluster never asks a router about a host other than the one it returns.
type Router interface {
	HostForKey(key string) int
}

// Partition is rb's PartitionRouter: crc32(key) % n with rb's signed crc32 and floor modulo (the
// Python2 mode), so Go and rb route every key to the same host id. For 3 hosts, "foo" goes to 1,
// "bar" to 2 and "baz" to 0. Adding a host moves most keys.
type Partition struct {
	n    int
	mode HashMode
}

// NewPartition returns rb's partition router over n hosts.
func NewPartition(n int) (*Partition, error) { return NewPartitionMode(n, Python2) }

// NewPartitionMode returns a partition router with the given hash mode; Python3 gives the unsigned
// crc32 % n of the book's Python 3 functions.
func NewPartitionMode(n int, mode HashMode) (*Partition, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: %d hosts", ErrBadShards, n)
	}
	if !mode.valid() {
		return nil, fmt.Errorf("%w: %v", ErrBadMode, mode)
	}
	return &Partition{n: n, mode: mode}, nil
}

// HostForKey returns the key's host.
func (p *Partition) HostForKey(key string) int { return index(key, p.n, p.mode) }

// ConsistentHash is a ketama ring, the algorithm of rb's ConsistentHashingRouter (rb/ketama.py): each
// node gets floor(40 * nodes * weight / totalWeight) md5 digests of "<name>-<i>-salt", each digest
// giving four points on a 32-bit ring; a key goes to the first point after md5(key)'s first four
// bytes (little-endian), wrapping around. It routes as rb does only when the node names are the ones
// rb hashes: rb hashes the repr of each node's HostInfo, so to share keys with an rb cluster pass those names
// in Node.Name (rb's own test vectors pass that way); the default names "0", "1", ... do not
// reproduce an rb cluster's placement. Adding or removing a node moves only about 1/n of the keys,
// and a node of weight 2 receives about twice the keys of a node of weight 1.
type ConsistentHash struct {
	points []uint32 // sorted
	owner  map[uint32]int
	ids    []int // the nodes' distinct host ids, sorted; a Cluster checks them against its hosts
}

// Node is one host of a ConsistentHash: its id, the name hashed onto the ring, and its weight.
type Node struct {
	Host   int    // host id
	Name   string // default: the host id in decimal
	Weight int    // default: 1
}

// NewConsistentHash builds a ring over hosts 0..n-1 of weight 1, named by their ids.
func NewConsistentHash(n int) (*ConsistentHash, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: %d hosts", ErrBadShards, n)
	}
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i].Host = i
	}
	return NewConsistentHashNodes(nodes)
}

// NewConsistentHashNodes builds a weighted ring. Names must be distinct and weights not negative
// (a weight of 0 takes the default, 1).
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
		if n.Weight < 0 {
			return nil, fmt.Errorf("%w: node %q has weight %d", ErrBadHosts, n.Name, n.Weight)
		}
		if n.Weight == 0 {
			n.Weight = 1
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
		ks := 40 * len(nodes) * n.Weight / total
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
	if len(r.points) == 0 {
		return nil, fmt.Errorf("%w: weights leave every node without a point on the ring", ErrBadHosts)
	}
	return r, nil
}

// HostForKey returns the key's host.
func (r *ConsistentHash) HostForKey(key string) int {
	d := md5.Sum([]byte(key))
	h := binary.LittleEndian.Uint32(d[:4])
	// rb uses bisect (bisect_right): the first point strictly greater than h.
	i := sort.Search(len(r.points), func(i int) bool { return r.points[i] > h })
	if i == len(r.points) {
		i = 0
	}
	return r.owner[r.points[i]]
}
