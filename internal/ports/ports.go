// Package ports picks loopback TCP ports for the test servers and proxies of redistest and
// faultproxy.
//
// Every range lies below Linux's default ephemeral range (ip_local_port_range starts at 32768), so
// no process's outgoing connection can take a picked port between the pick and the bind, nor while a
// proxy is disabled and must listen on the same port again. The ranges do not overlap, so a server
// of one test process cannot take the port of another's disabled proxy.
package ports

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
)

// EphemeralMin is where Linux's default ephemeral range starts.
const EphemeralMin = 32768

// BusOffset is the distance from a Redis Cluster node's port to its cluster bus port.
const BusOffset = 10000

// Range is the ports [Base, Base+Span).
type Range struct{ Base, Span int }

var (
	// Servers holds redis-server ports: 20000-29999.
	Servers = Range{20000, 10000}
	// ClusterNodes holds the ports of cluster nodes, whose bus (port+BusOffset) stays below
	// EphemeralMin: 20000-22767, bus 30000-32767.
	ClusterNodes = Range{20000, EphemeralMin - BusOffset - 20000}
	// Proxies holds fault proxy ports: 10000-19999.
	Proxies = Range{10000, 10000}
)

// ErrNoFreePort is returned when no port of the range could be bound in many tries.
var ErrNoFreePort = errors.New("ports: no free port found")

// Free picks a random port of r that can be bound on host (and, with bus, port+BusOffset too).
// Another process may still bind it before the caller does: Listen retries when that happens.
func Free(host string, r Range, bus bool) (int, error) {
	for range 200 {
		p := r.Base + rand.IntN(r.Span)
		if !canBind(host, p) || (bus && !canBind(host, p+BusOffset)) {
			continue
		}
		return p, nil
	}
	return 0, ErrNoFreePort
}

func canBind(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Attempts is how many picked ports Listen tries.
const Attempts = 8

// Listen calls listen with ports Free picks until it returns nil, returns an error inUse does not
// match (another process took the port between the pick and the bind), or Attempts ports were tried;
// it returns the port of the success and listen's last error.
func Listen(host string, r Range, bus bool, inUse func(error) bool, listen func(port int) error) (int, error) {
	for i := 0; ; i++ {
		p, err := Free(host, r, bus)
		if err != nil {
			return 0, err
		}
		err = listen(p)
		if err == nil || !inUse(err) || i == Attempts-1 {
			return p, err
		}
	}
}
