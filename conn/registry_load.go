package conn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// entry is one component's state. The hot path reads cur and due with atomics only.
type entry struct {
	component, key string
	cur            atomic.Pointer[handle] // nil until the first successful load
	due            atomic.Int64           // unix nanos when the config should be read again
	refreshing     atomic.Bool            // a background refresh is in flight
	lastErr        atomic.Pointer[error]  // latest load or refresh failure; nil after a success
	sem            chan struct{}          // one load or refresh at a time

	mu    sync.Mutex // guards first
	first *loadCall  // the first load in flight, nil when none
}

// loadCall is a first load that callers wait for; err is set before done is closed.
type loadCall struct {
	done chan struct{}
	err  error
}

// handle is a client with a count of the calls using it.
type handle struct {
	client    redis.UniversalClient
	cfg       *Config
	canon     string
	refs      atomic.Int64
	retired   atomic.Bool
	closeOnce sync.Once
	releaseFn func() // h.release, made once so Acquire does not allocate
}

func newHandle(client redis.UniversalClient, cfg *Config, canon string) *handle {
	h := &handle{client: client, cfg: cfg, canon: canon}
	h.releaseFn = h.release
	return h
}

func (h *handle) release() {
	if h.refs.Add(-1) == 0 && h.retired.Load() {
		h.close()
	}
}

func (h *handle) retire() {
	h.retired.Store(true)
	if h.refs.Load() == 0 {
		h.close()
	}
}

func (h *handle) close() { h.closeOnce.Do(func() { h.client.Close() }) }

// entry returns component's state, checking the name the first time it is seen.
func (r *Registry) entry(component string) (*entry, error) {
	if e, ok := r.entries.Load(component); ok {
		return e.(*entry), nil
	}
	if err := checkComponent(component); err != nil {
		return nil, err
	}
	e, _ := r.entries.LoadOrStore(component, &entry{
		component: component,
		key:       r.opt.Prefix + component,
		sem:       make(chan struct{}, 1),
	})
	return e.(*entry), nil
}

// checkComponent refuses names that make an odd key ("" gives "config:redis:"): a component name is
// valid UTF-8, not empty, with no spaces or control characters.
func checkComponent(name string) error {
	if name != "" && utf8.ValidString(name) &&
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0 {
		return nil
	}
	return &ConfigError{Err: fmt.Errorf("%w: component name %q must be non-empty, without spaces or control characters", ErrBadConfig, name)}
}

// lock takes e's semaphore, giving up when ctx ends.
func (e *entry) lock(ctx context.Context) error {
	select {
	case e.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lockEntry is e.lock for a caller's ctx: it also gives up, with ErrClosed, when the registry
// closes, since a load stuck in a read may hold e.sem past Close.
func (r *Registry) lockEntry(ctx context.Context, e *entry) error {
	select {
	case e.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stop.Done():
		return ErrClosed
	}
}

func (e *entry) unlock() { <-e.sem }

// firstLoad waits for the first load of e's config, started by whichever caller comes first. The
// load runs on the registry's context bounded by RefreshTimeout, so each caller stops waiting when its
// own ctx ends without failing the load for the others. A missing or invalid config, or the config
// server's refusal, is remembered for Wait, so it does not cost every call a round trip; a failure to
// reach the config server is not, so the next call tries again within its own deadline.
func (r *Registry) firstLoad(ctx context.Context, e *entry) error {
	if err := ctx.Err(); err != nil {
		return err // an ended caller starts no load that would outlive it
	}
	for retried := false; ; retried = true {
		e.mu.Lock()
		if e.cur.Load() != nil {
			e.mu.Unlock()
			return nil
		}
		if p := e.lastErr.Load(); p != nil && remembered(*p) && r.opt.Now().UnixNano() < e.due.Load() {
			e.mu.Unlock()
			return *p
		}
		call := e.first
		joined := call != nil
		if !joined {
			call = &loadCall{done: make(chan struct{})}
			e.first = call // set before the goroutine can clear it; it needs e.mu to
			if !r.goBG(func() { r.runFirstLoad(e, call) }) {
				e.first = nil
				e.mu.Unlock()
				return ErrClosed
			}
		}
		e.mu.Unlock()
		select {
		case <-call.done:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.stop.Done():
			return ErrClosed // the load may be stuck in a read that Close cannot end
		}
		// A load already under way when this call came may fail at its own timeout, well before this
		// caller's deadline: try once more with a load of its own time. Never more, so a config server
		// that refuses at once is not hammered.
		if call.err == nil || !joined || retried || remembered(call.err) || r.closed.Load() {
			return call.err
		}
	}
}

func (r *Registry) runFirstLoad(e *entry, call *loadCall) {
	ctx, cancel := context.WithTimeout(r.stop, r.opt.RefreshTimeout)
	defer cancel()
	err := e.lock(ctx)
	if err != nil {
		err = &ConfigError{Key: e.key, Err: fmt.Errorf("waiting for another load: %w", err)}
	} else {
		if e.cur.Load() == nil { // a Refresh or SetConfig may have loaded it meanwhile
			// Set before reading, as the book's get_config sets CHECKED first: at most one read per Wait.
			e.due.Store(r.opt.Now().Add(r.opt.Wait).UnixNano())
			if err = noretry.CtxErr(ctx, r.load(ctx, e)); err != nil && !r.closed.Load() {
				e.lastErr.Store(&err)
			}
		}
		e.unlock()
	}
	if err != nil && r.closed.Load() {
		err = ErrClosed
	}
	call.err = err
	e.mu.Lock()
	e.first = nil
	e.mu.Unlock()
	close(call.done)
}

// remembered reports whether a failed first load is kept for Wait: what the config server said (no
// config, a config that does not parse, a refusal), not a failure to reach it.
func remembered(err error) bool {
	return errors.Is(err, ErrNoConfig) || errors.Is(err, ErrBadConfig) || errors.Is(err, ErrInsecureTLS) ||
		noretry.IsErrorReply(err)
}

// goBG runs fn in a goroutine Close waits for, unless the registry is closed.
func (r *Registry) goBG(fn func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return false
	}
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		fn()
	}()
	return true
}

func (r *Registry) refreshInBackground(e *entry) {
	// Set before reading, as the book's get_config sets CHECKED first: at most one read per Wait.
	e.due.Store(r.opt.Now().Add(r.opt.Wait).UnixNano())
	if !r.goBG(func() { r.refresh(e) }) {
		e.refreshing.Store(false)
	}
}

func (r *Registry) refresh(e *entry) {
	defer e.refreshing.Store(false)
	ctx, cancel := context.WithTimeout(r.stop, r.opt.RefreshTimeout)
	defer cancel()
	if err := e.lock(ctx); err != nil {
		return // a Refresh or load holds it past RefreshTimeout; it reads the config itself
	}
	err := r.load(ctx, e)
	e.unlock()
	if err == nil || r.closed.Load() {
		return
	}
	e.lastErr.Store(&err)
	if r.opt.OnRefreshError != nil {
		r.opt.OnRefreshError(e.component, err) // unlocked: a slow hook holds up no caller
	}
}

// Refresh re-reads component's config now and waits for the result, switching clients if it changed.
// A failure caused by ctx ending is returned but not remembered, so it fails no other caller.
func (r *Registry) Refresh(ctx context.Context, component string) (err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if r.closed.Load() {
		return ErrClosed
	}
	e, err := r.entry(component)
	if err != nil {
		return err
	}
	if err := r.lockEntry(ctx, e); err != nil {
		return err
	}
	defer e.unlock()
	return r.refreshLocked(ctx, e)
}

// refreshLocked is Refresh for a caller holding e.sem.
func (r *Registry) refreshLocked(ctx context.Context, e *entry) error {
	err := r.load(ctx, e)
	if err != nil && noretry.Ended(ctx) {
		return err // the caller's deadline, not the config's fault
	}
	e.due.Store(r.opt.Now().Add(r.opt.Wait).UnixNano())
	if err != nil {
		e.lastErr.Store(&err)
	}
	return err
}

// load reads and parses the config and installs a new client if it changed. The caller holds e.sem.
func (r *Registry) load(ctx context.Context, e *entry) error {
	raw, err := r.config.Get(ctx, e.key).Bytes()
	if r.closed.Load() {
		return ErrClosed // Close stopped waiting for this read: what it got is not used
	}
	if errors.Is(err, redis.Nil) {
		return &ConfigError{Key: e.key, Err: ErrNoConfig}
	}
	if err != nil {
		return &ConfigError{Key: e.key, Err: fmt.Errorf("reading config: %w", err)}
	}
	cfg, err := r.parse(raw)
	if err != nil {
		return withKey(e.key, err)
	}
	canon := cfg.canonical()
	old := e.cur.Load()
	if old != nil && old.canon == canon {
		e.lastErr.Store(nil)
		return nil // unchanged: keep the same client
	}
	client, err := r.newClient(ctx, e.component, cfg)
	if err != nil {
		return withKey(e.key, err)
	}
	if r.closed.Load() { // Close ran while we read: do not leak the new client
		client.Close()
		return ErrClosed
	}
	return r.install(e, newHandle(client, cfg, canon))
}

// install makes h e's client and retires the one it replaces. Close swaps each entry's client out
// without waiting for loads, so install checks closed after its swap: either Close's swap sees h, or
// install sees closed and closes h itself.
func (r *Registry) install(e *entry, h *handle) error {
	old := e.cur.Swap(h)
	if r.closed.Load() {
		if cur := e.cur.Swap(nil); cur != nil {
			cur.close()
		}
		if old != nil {
			old.close() // Close closes acquired clients too
		}
		return ErrClosed
	}
	e.lastErr.Store(nil)
	if old != nil {
		old.retire()
	}
	return nil
}

// withKey names key in err's *ConfigError, or wraps err in one.
func withKey(key string, err error) error {
	var ce *ConfigError
	if errors.As(err, &ce) {
		ce.Key = key
		return err
	}
	return &ConfigError{Key: key, Err: err}
}

// parse is ParseConfig plus the registry's TLS policy.
func (r *Registry) parse(raw []byte) (*Config, error) {
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	if cfg.Insecure() && !r.opt.AllowInsecureTLS {
		return nil, &ConfigError{Field: "ssl", Err: ErrInsecureTLS}
	}
	return cfg, nil
}
