// Package tour is what every chapter's example needs around the book's code: the servers (embedded
// miniredis, or databases on real servers given with -addr or RIA_REDIS_ADDR), the connection
// registry over them, printing, and the command line of the tour and of each chapter's program.
//
// A chapter is a list of Parts; Main runs them. By default every server a part asks for is a new
// embedded miniredis, so nothing needs installing. With -addr the servers are databases 1 to 15 of
// every address, never database 0. Database 1 of the first address holds the configs
// (config:redis:*); the others are handed out round robin over the addresses, each to one
// component, except that a part asking for more servers than there are databases (chapter 10's 17,
// with one address) gets some twice, where its keys cannot collide. A database an earlier part used
// is emptied before another part gets it. Before writing anything, Main checks that all of them are
// empty, and refuses (NotEmptyError) unless -flush.
//
// Exit codes: 0 when every part ran, 1 when one failed or the servers were refused, 2 for bad usage
// (an unknown flag or chapter, an -addr entry that is not host:port, two addresses of one server).
package tour

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/redistest"
)

// Part is one part of a chapter's example, say one section of the book.
type Part struct {
	Chapter string // "ch04": the directory under examples/ and the -chapter flag's value
	Title   string // "4.4 Transactions: the marketplace"
	Run     func(ctx context.Context, env *Env) error
}

// Env is what a part runs against.
type Env struct {
	Out io.Writer

	// Config is the client of the server holding config:redis:* keys, and Registry reads them.
	Config   redis.UniversalClient
	Registry *conn.Registry

	addrs   []string // real servers; empty: embedded miniredis
	flush   bool
	strict  bool // NeedServers fails, instead of printing a notice, without redis-server
	flushed []Database

	mu     sync.Mutex
	layout *layout // real servers only
	part   int     // the part running: 1, 2, ... (the layout's owner)
	minis  []*miniredis.Miniredis
}

// Real reports whether the env talks to real Redis servers (-addr / RIA_REDIS_ADDR).
func (e *Env) Real() bool { return len(e.addrs) > 0 }

// NeedServers is how a part that starts its own redis-server (redistest) for what miniredis cannot
// do checks that it can. Without redis-server it returns true, after printing what the part would
// show and how to install it, so the part returns early; in a strict run (the tests, which never
// skip) it returns the error instead.
func (e *Env) NeedServers(what string) (missing bool, err error) {
	err = redistest.Installed()
	if err == nil {
		return false, nil
	}
	if e.strict {
		return true, fmt.Errorf("%s: %w", what, err)
	}
	e.Printf("this part (%s) needs redis-server, which is not installed:\n", what)
	e.Printf("install it (`make deps`, or apt-get install redis-server), or set RIA_REDIS_SERVER to the binary\n")
	return true, nil
}

// Printf writes to the output.
func (e *Env) Printf(format string, args ...any) { fmt.Fprintf(e.Out, format, args...) }

// Section prints a heading.
func (e *Env) Section(title string) { fmt.Fprintf(e.Out, "\n-- %s\n", title) }

// Server returns the config (the book's redis-py keyword form) of a fresh, empty server for one
// component: a new embedded miniredis, or the next database on the real servers.
// ErrTooFewDatabases when the running part already has every database.
func (e *Env) Server(ctx context.Context) (map[string]any, error) {
	cfgs, err := e.servers(ctx, 1, false)
	if err != nil {
		return nil, err
	}
	return cfgs[0], nil
}

// SharedServers returns n server configs for the components of one part. On real servers with fewer
// databases left than n, some configs name the same database (round robin over the ones handed out):
// ask for them only for components whose keys cannot collide, read by code that counts a database
// once (uniquevisits.Counter.Recount does).
func (e *Env) SharedServers(ctx context.Context, n int) ([]map[string]any, error) {
	return e.servers(ctx, n, true)
}

func (e *Env) servers(ctx context.Context, n int, share bool) (cfgs []map[string]any, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if n < 1 {
		return nil, fmt.Errorf("tour: %d servers asked for", n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.Real() {
		for range n {
			m := miniredis.NewMiniRedis()
			if err := m.Start(); err != nil {
				return nil, err
			}
			e.minis = append(e.minis, m)
			port, _ := strconv.Atoi(m.Port())
			cfgs = append(cfgs, map[string]any{"host": m.Host(), "port": port})
		}
		return cfgs, nil
	}
	got, reused, err := e.layout.claim(e.part, n, share)
	if err != nil {
		return nil, err
	}
	for _, s := range reused { // an earlier part's keys: this run's own, so emptied without asking
		if err := flushDB(ctx, s); err != nil {
			return nil, err
		}
	}
	for _, s := range got {
		cfgs = append(cfgs, map[string]any{"addr": s.addr, "db": s.db})
	}
	return cfgs, nil
}

// setPart marks the start of the next part: the databases earlier parts had may be reused.
func (e *Env) setPart(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.part = n
}

// Close closes the registry, the config client and the embedded servers.
func (e *Env) Close() {
	e.Registry.Close()
	e.Config.Close()
	for _, m := range e.minis {
		m.Close()
	}
}
