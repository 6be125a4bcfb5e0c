package ports

import (
	"net"
	"strconv"
	"testing"
)

// The ranges stay below the ephemeral range (a cluster node's bus too) and do not overlap.
func TestRanges(t *testing.T) {
	end := func(r Range) int { return r.Base + r.Span }
	for name, r := range map[string]Range{"Servers": Servers, "Proxies": Proxies} {
		if r.Base < 1024 || end(r) > EphemeralMin {
			t.Errorf("%s %v: want within 1024-%d", name, r, EphemeralMin-1)
		}
	}
	if end(ClusterNodes)+BusOffset > EphemeralMin || ClusterNodes.Base < Servers.Base || end(ClusterNodes) > end(Servers) {
		t.Errorf("ClusterNodes %v: its bus reaches %d; want below %d, within Servers", ClusterNodes, end(ClusterNodes)+BusOffset-1, EphemeralMin)
	}
	overlap := func(a, b Range) bool { return a.Base < end(b) && b.Base < end(a) }
	bus := Range{ClusterNodes.Base + BusOffset, ClusterNodes.Span}
	for name, r := range map[string]Range{"Servers": Servers, "the cluster bus": bus} {
		if overlap(Proxies, r) {
			t.Errorf("Proxies %v overlaps %s %v", Proxies, name, r)
		}
	}
}

// Every pick is in its range and can be bound; held ports are not picked again.
func TestFree(t *testing.T) {
	for name, tc := range map[string]struct {
		r   Range
		bus bool
	}{"servers": {Servers, false}, "cluster": {ClusterNodes, true}, "proxies": {Proxies, false}} {
		held := map[int]bool{}
		for range 30 {
			p, err := Free("127.0.0.1", tc.r, tc.bus)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if p < tc.r.Base || p >= tc.r.Base+tc.r.Span || held[p] {
				t.Fatalf("%s: picked %d; want a port of %v not held (%v)", name, p, tc.r, held)
			}
			for _, q := range []int{p, p + BusOffset} {
				if q != p && !tc.bus {
					continue
				}
				l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(q)))
				if err != nil {
					t.Fatalf("%s: picked %d, but %d cannot be bound: %v", name, p, q, err)
				}
				t.Cleanup(func() { l.Close() })
			}
			held[p] = true
		}
	}
}

// A range whose every port is held gives ErrNoFreePort.
func TestFreeNone(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if p, err := Free("127.0.0.1", Range{port, 1}, false); err != ErrNoFreePort {
		t.Fatalf("Free over one held port = %d, %v; want ErrNoFreePort", p, err)
	}
}
