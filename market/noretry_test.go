package market_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/market"
)

// dropProxy forwards TCP to upstream, and drops the first connection whose request contains
// trigger once the server's reply to it starts to arrive: the request ran, its reply is lost. A
// hook cannot do this, since go-redis retries below the hooks.
type dropProxy struct {
	ln       net.Listener
	upstream string
	trigger  []byte
	armed    atomic.Bool
	dropped  atomic.Int32
	wg       sync.WaitGroup
}

func startDropProxy(t *testing.T, upstream, trigger string) *dropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	p := &dropProxy{ln: ln, upstream: upstream, trigger: []byte(trigger)}
	p.armed.Store(true)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *dropProxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	var sent atomic.Bool // the trigger has gone to the server on this connection
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if bytes.Contains(bytes.ToLower(buf[:n]), p.trigger) {
					sent.Store(true)
				}
				if _, werr := server.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		server.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if sent.Load() && p.armed.CompareAndSwap(true, false) {
				p.dropped.Add(1)
				return // the reply is lost: both connections close
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestScriptNotResent: a client with go-redis's default retries (MaxRetries 3) loses the reply to
// the purchase script. The purchase ran once; the result must be ErrUnknownOutcome, not a resent
// script's ErrNotListed for the purchase that happened, and the money moved once.
func TestScriptNotResent(t *testing.T) {
	ctx := context.Background()
	for _, trigger := range []string{"evalsha", "eval"} {
		t.Run(trigger, func(t *testing.T) {
			m, c := newMini(t)
			setUser(t, c, "17", "Frank", "43", "ItemM", "ItemL")
			setUser(t, c, "27", "Bill", "125")
			var s market.Script
			_, err := s.ListItem(ctx, c, "ItemM", "17", 97)
			must(t, err)
			// One purchase first, so the server has the purchase script and EVALSHA runs it.
			_, err = s.ListItem(ctx, c, "ItemL", "17", 3)
			must(t, err)
			_, err = s.PurchaseItem(ctx, c, "27", "ItemL", "17", 3)
			must(t, err)
			if trigger == "eval" {
				must(t, c.ScriptFlush(ctx).Err()) // EVALSHA gets NOSCRIPT; the EVAL that follows runs it
			}

			p := startDropProxy(t, m.Addr(), "\r\n"+trigger+"\r\n")
			retrying := redis.NewClient(&redis.Options{Addr: p.ln.Addr().String()}) // MaxRetries: default
			t.Cleanup(func() { retrying.Close() })
			must(t, retrying.Ping(ctx).Err())

			_, err = s.PurchaseItem(ctx, retrying, "27", "ItemM", "17", 97)
			if p.dropped.Load() != 1 {
				t.Fatalf("the proxy dropped %d replies; want 1", p.dropped.Load())
			}
			wantErr(t, err, market.ErrUnknownOutcome)
			if fb, _ := c.HGet(ctx, "users:27", "funds").Int(); fb != 125-3-97 {
				t.Errorf("buyer funds %d; want %d (bought once)", fb, 125-3-97)
			}
			if fs, _ := c.HGet(ctx, "users:17", "funds").Int(); fs != 43+3+97 {
				t.Errorf("seller funds %d; want %d (paid once)", fs, 43+3+97)
			}
			if !c.SIsMember(ctx, "inventory:27", "ItemM").Val() || c.ZCard(ctx, "market:").Val() != 0 {
				t.Errorf("the purchase did not happen:\n%s", dump(t, c))
			}
		})
	}
}
