package bounded_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
)

// unanswered is a name no hosts file holds: looking it up asks the DNS server TestMain sets up.
const unanswered = "upstream.bounded.test"

// TestMain points the process's resolver at a DNS server that never answers (a UDP socket nobody
// reads), so that a lookup of unanswered waits until its ctx ends. Names in the hosts file
// (localhost) still resolve; nothing else here uses a name.
func TestMain(m *testing.M) {
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
