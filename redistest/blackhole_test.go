package redistest_test

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ria-go/ria/redistest"
)

// A black hole accepts the connection, takes what it is sent and never answers; its connections
// close when the test that made it ends.
func TestBlackHole(t *testing.T) {
	var c net.Conn
	if !t.Run("hole", func(t *testing.T) {
		var err error
		if c, err = net.Dial("tcp", redistest.BlackHole(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond)) // how long to listen for no answer
		if n, err := c.Read(make([]byte, 16)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read %d bytes, %v; want none and the read deadline", n, err)
		}
	}) {
		return
	}
	defer c.Close()
	c.SetReadDeadline(time.Time{})
	if n, err := c.Read(make([]byte, 16)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("after its test: read %d bytes, %v; want io.EOF (closed)", n, err)
	}
}
