package bounded_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// unanswered is a name no hosts file holds: looking it up asks the DNS server TestMain sets up.
const unanswered = "upstream.bounded.test"

// hangEnv, set in its environment, makes the test binary a redis-server that never answers (see
// hangServer).
const hangEnv = "BOUNDED_HANG_SERVER"

// TestMain points the process's resolver at a DNS server that never answers (a UDP socket nobody
// reads), so that a lookup of unanswered waits until its ctx ends. Names in the hosts file
// (localhost) still resolve; nothing else here uses a name. Started with hangEnv set, the binary is
// a server that never answers instead, and runs no test.
func TestMain(m *testing.M) {
	if os.Getenv(hangEnv) != "" {
		hangServer()
	}
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", sink.LocalAddr().String())
	}}
	code := m.Run()
	sink.Close()
	os.Exit(code)
}

// hangServer reads a redis.conf on stdin, as redistest passes it, listens on its bind address and
// port, and holds every connection without reading or answering, until it is killed. It holds the
// port: a server that only slept would leave it free, and a server started meanwhile (on this busy
// machine, by any test) could take it and answer the start's probe in its place.
func hangServer() {
	conf, _ := io.ReadAll(os.Stdin)
	host, port := "127.0.0.1", ""
	for _, line := range strings.Split(string(conf), "\n") {
		switch f := strings.Fields(line); {
		case len(f) >= 2 && f[0] == "bind":
			host = f[1]
		case len(f) == 2 && f[0] == "port" && f[1] != "0":
			port = f[1]
		}
	}
	if port == "" {
		sleepForever() // no TCP port to hold
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		sleepForever() // taken after redistest picked it: hang as a server that never bound it
	}
	var held []net.Conn
	for {
		c, err := l.Accept()
		if err != nil {
			sleepForever()
		}
		held = append(held, c)
	}
}

// sleepForever blocks until the process is killed. A bare select{} would not: with no other
// goroutine, the runtime would end the process as deadlocked.
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}
