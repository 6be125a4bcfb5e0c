package logs

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

// execDropper is a TCP proxy that, after letting skip EXECs through, drops the next ones (drops of
// them): it forwards EXEC, lets the server run it, and closes the connection without relaying the
// reply, a commit whose reply is lost.
type execDropper struct {
	ln     net.Listener
	target string
	skip   atomic.Int32 // EXECs to let through before dropping
	drops  atomic.Int32
	wg     sync.WaitGroup
}

func newExecDropper(t *testing.T, target string, drops int) *execDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &execDropper{ln: ln, target: target}
	p.drops.Store(int32(drops))
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *execDropper) serve() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		var dropping atomic.Bool
		p.wg.Add(2)
		go func() { // server -> client, unless the connection is being dropped
			defer p.wg.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := server.Read(buf)
				if n > 0 && !dropping.Load() {
					client.Write(buf[:n])
				}
				if err != nil {
					client.Close()
					return
				}
			}
		}()
		go func() { // client -> server
			defer p.wg.Done()
			defer server.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := client.Read(buf)
				if n > 0 {
					exec := bytes.Contains(bytes.ToLower(buf[:n]), []byte("\r\nexec\r\n"))
					if exec && p.skip.Add(-1) < 0 && p.drops.Add(-1) >= 0 {
						dropping.Store(true)
						server.Write(buf[:n])
						time.Sleep(50 * time.Millisecond) // the server executes; its reply is dropped
						client.Close()
						return
					}
					server.Write(buf[:n])
				}
				if err != nil {
					if err != io.EOF {
						client.Close()
					}
					return
				}
			}
		}()
	}
}

func (p *execDropper) addr() string { return p.ln.Addr().String() }

// TestLostExecReply: a commit whose reply is lost has an unknown outcome for the client. ProcessLogs
// reports it, and the next run resumes from what the server did commit, counting each line once.
func TestLostExecReply(t *testing.T) {
	ctx := context.Background()
	srv := redistest.RunT(t, nil)
	direct := srv.Client(t)
	dir := t.TempDir()
	files := map[string]string{"f": "1\n2\n3\n4\n5\n"}
	writeFiles(t, dir, files)
	for drop := 1; drop <= 3; drop++ { // lose the reply of the 1st, 2nd or 3rd commit
		direct.FlushAll(ctx)
		proxy := newExecDropper(t, srv.Addr(), 0)
		c := redis.NewClient(&redis.Options{Addr: proxy.addr(), ContextTimeoutEnabled: true}) // default retries
		proxy.skip.Store(int32(drop - 1))
		proxy.drops.Store(1)
		res, err := ProcessLogs(ctx, c, dir, record, &Options{BatchLines: 2})
		if err == nil {
			t.Fatalf("drop %d: ProcessLogs did not report the lost EXEC reply (%+v)", drop, res)
		}
		if res.Commits != drop-1 {
			t.Fatalf("drop %d: %d commits reported before the error", drop, res.Commits)
		}
		if _, err := ProcessLogs(ctx, c, dir, record, &Options{BatchLines: 2}); err != nil {
			t.Fatal(err)
		}
		checkRecords(t, direct, want(files, "f"))
		c.Close()
	}
}
