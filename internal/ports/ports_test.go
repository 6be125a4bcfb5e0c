package ports

import (
	"errors"
	"net"
	"slices"
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

// Listen picks again only while the port was taken, at most Attempts times, and returns the port
// that worked.
func TestListen(t *testing.T) {
	errTaken, errOther := errors.New("taken"), errors.New("other")
	inUse := func(err error) bool { return errors.Is(err, errTaken) }
	for _, tc := range []struct {
		name  string
		fails []error // listen's errors, in order; then nil
		tries int
		want  error
	}{
		{"at once", nil, 1, nil},
		{"taken twice", []error{errTaken, errTaken}, 3, nil},
		{"other error", []error{errTaken, errOther}, 2, errOther},
		{"always taken", slices.Repeat([]error{errTaken}, Attempts+5), Attempts, errTaken},
	} {
		var tried []int
		port, err := Listen("127.0.0.1", Proxies, false, inUse, func(p int) error {
			tried = append(tried, p)
			if len(tried) <= len(tc.fails) {
				return tc.fails[len(tried)-1]
			}
			return nil
		})
		if len(tried) != tc.tries || !errors.Is(err, tc.want) || (err == nil && port != tried[len(tried)-1]) {
			t.Errorf("%s: tried %v, got port %d, %v; want %d tries, %v, the last port tried", tc.name, tried, port, err, tc.tries, tc.want)
		}
	}
}
