package faultproxy

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Chunks written one after another all wait out their delay at the same time: the proxy queues each
// one as it reads it, it does not sleep out a chunk's delay before reading the next (then it would
// never hold two). Each command is sent only once the proxy holds the one before, so every command
// is a chunk of its own whatever the machine's load. Close then drops what waits, sending nothing.
func TestDelayDoesNotSerialize(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	up, got := silentUpstream(t)
	d := StartDelayT(t, up, time.Hour) // nothing is due while the test runs
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const n = 20
	for i := range n {
		if _, err := fmt.Fprintf(c, "ECHO m%d\r\n", i); err != nil {
			t.Fatal(err)
		}
		for d.held.n.Load() != int64(i+1) {
			select {
			case <-ctx.Done():
				t.Fatalf("after %d commands the proxy holds %d chunks (peak %d); want %d waiting at once",
					i+1, d.held.n.Load(), d.held.peak.Load(), i+1)
			case <-time.After(time.Millisecond):
			}
		}
	}
	if p := d.held.peak.Load(); p != n {
		t.Fatalf("peak chunks waiting out their delay = %d; want %d", p, n)
	}

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if h := d.held.n.Load(); h != 0 {
		t.Fatalf("after Close the proxy still holds %d chunks; want 0 (dropped)", h)
	}
	if b := got(); b != 0 {
		t.Fatalf("upstream received %d bytes due in an hour; want 0 (Close drops them)", b)
	}
}

// The gauge's peak is the most it ever held, whatever the interleaving of adds.
func TestGaugePeak(t *testing.T) {
	var g gauge
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				g.add(1)
				g.add(-1)
			}
		}()
	}
	wg.Wait()
	if n, p := g.n.Load(), g.peak.Load(); n != 0 || p < 1 || p > 8 {
		t.Fatalf("gauge n=%d peak=%d; want 0 and 1..8", n, p)
	}
}

// silentUpstream accepts connections and reads them without answering; got reports the bytes read
// so far. Everything closes when the test ends.
func silentUpstream(t *testing.T) (addr string, got func() int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		total int64
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					mu.Lock()
					total += int64(n)
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), func() int64 { mu.Lock(); defer mu.Unlock(); return total }
}
