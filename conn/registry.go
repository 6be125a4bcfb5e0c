package conn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the book's key prefix for connection configs.
const DefaultPrefix = "config:redis:"

// Options configure a Registry.
type Options struct {
	// Wait is how often a component's config is re-read: the book's wait.
	// default: 1 second
	Wait time.Duration

	// Prefix is prepended to a component's name to make its config key.
	// default: "config:redis:"
	Prefix string

	// RefreshTimeout bounds one read of a config by a first load or a background refresh. Both run on
	// the registry's own context, not a caller's, so one caller's cancelled context fails no one else.
	// default: 1 second
	RefreshTimeout time.Duration

	// Now is the clock; tests inject one to drive refreshes.
	// default: time.Now
	Now func() time.Time

	// OnRefreshError, when set, is called (from the refreshing goroutine, with no registry lock held)
	// each time a background refresh fails; the cached client keeps serving. Err reports the latest
	// failure too. The component's next background refresh waits until it returns.
	OnRefreshError func(component string, err error)

	// AllowInsecureTLS lets configs turn TLS verification off (ssl_cert_reqs "none",
	// ssl_check_hostname false, rediss://...?skip_verify=true). It is the application's decision,
	// not the config store's: a config that asks for it is refused otherwise.
	// default: false
	AllowInsecureTLS bool

	// NewClient makes a client from a parsed config; tests inject one to count or fake clients.
	// (*Config).NewClient refuses insecure TLS whatever AllowInsecureTLS says: a hook for a registry
	// that allows it calls NewClientAllowInsecure. The hook gets no context: it must not block.
	// default: what (*Config).NewClient does (NewClientAllowInsecure with AllowInsecureTLS), its TLS
	// files read within the context of the load (the caller's for SetConfig and Refresh)
	NewClient func(component string, cfg *Config) (redis.UniversalClient, error)
}

func (o *Options) init() {
	if o.Wait <= 0 {
		o.Wait = time.Second
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.RefreshTimeout <= 0 {
		o.RefreshTimeout = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// newClient makes component's client, within ctx unless a hook makes it.
func (r *Registry) newClient(ctx context.Context, component string, cfg *Config) (redis.UniversalClient, error) {
	if r.opt.NewClient != nil {
		return r.opt.NewClient(component, cfg)
	}
	return cfg.newClient(ctx, r.opt.AllowInsecureTLS)
}

// Registry hands out one go-redis client per component, made from the component's config in Redis.
// It is safe for concurrent use. It owns the clients it makes: a replaced client is closed once the
// calls that acquired it have released it, and Close closes them all. It never closes the config client.
type Registry struct {
	config  redis.Cmdable
	opt     Options
	entries sync.Map // component -> *entry
	closed  atomic.Bool
	mu      sync.Mutex         // orders starting a background load (bg.Add) with Close (closed, bg.Wait)
	bg      sync.WaitGroup     // background loads, waited for by Close
	stop    context.Context    // parent of background loads
	cancel  context.CancelFunc // cancels stop; called by Close
}

// New returns a registry that reads configs through config, which it never closes. Give config
// ContextTimeoutEnabled (as the clients conn makes have): without it go-redis ignores context
// deadlines on the socket, so neither a caller's deadline nor RefreshTimeout bounds a read of a config
// server that stops answering, and only config's own ReadTimeout (3 s by default) does.
func New(config redis.Cmdable, opt *Options) *Registry {
	r := &Registry{config: config}
	if opt != nil {
		r.opt = *opt
	}
	r.opt.init()
	r.stop, r.cancel = context.WithCancel(context.Background())
	return r
}

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

// Key is the Redis key holding component's config.
func (r *Registry) Key(component string) string { return r.opt.Prefix + component }

// Acquire returns component's client and a release function to call when done with it. Until release
// is called, the client stays open even if the config changes. On the hot path (a cached client whose
// config was checked within Wait) it makes no round trip and takes no lock.
// Once ctx has ended, its error matches ctx.Err().
func (r *Registry) Acquire(ctx context.Context, component string) (redis.UniversalClient, func(), error) {
	c, release, err := r.acquire(ctx, component)
	if err != nil {
		return nil, nil, ctxErr(ctx, err)
	}
	return c, release, nil
}

func (r *Registry) acquire(ctx context.Context, component string) (redis.UniversalClient, func(), error) {
	if r.closed.Load() {
		return nil, nil, ErrClosed
	}
	e, err := r.entry(component)
	if err != nil {
		return nil, nil, err
	}
	for {
		h := e.cur.Load()
		if h == nil {
			if err := r.firstLoad(ctx, e); err != nil {
				return nil, nil, err
			}
			continue
		}
		if now := r.opt.Now().UnixNano(); now >= e.due.Load() && e.refreshing.CompareAndSwap(false, true) {
			r.refreshInBackground(e)
		}
		h.refs.Add(1)
		// A refresh may have swapped the client between the load and the increment; if so, the old
		// one may already be closing, so take the new one instead.
		if e.cur.Load() != h {
			h.release()
			continue
		}
		if r.closed.Load() {
			h.release()
			return nil, nil, ErrClosed
		}
		return h.client, h.releaseFn, nil
	}
}

// Client returns component's client without holding it. The client may be closed after a later config
// change, so prefer Acquire, Do or the Wrap functions for calls that may overlap a change.
func (r *Registry) Client(ctx context.Context, component string) (redis.UniversalClient, error) {
	c, release, err := r.Acquire(ctx, component) // its error already matches ctx's
	if err != nil {
		return nil, err
	}
	release()
	return c, nil
}

// Do calls fn with component's client, held for the duration of the call. Once ctx has ended, its
// error (fn's included) matches ctx.Err().
func (r *Registry) Do(ctx context.Context, component string, fn func(redis.UniversalClient) error) (err error) {
	defer func() { err = ctxErr(ctx, err) }()
	c, release, err := r.Acquire(ctx, component)
	if err != nil {
		return err
	}
	defer release()
	return fn(c)
}

// Err returns the latest error from loading or refreshing component's config, or nil when the latest
// attempt succeeded. A non-nil Err with a working client means the client is a cached one.
func (r *Registry) Err(component string) error {
	e, ok := r.entries.Load(component)
	if !ok {
		return nil
	}
	if p := e.(*entry).lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Config returns the config the component's current client was made from (nil before the first load).
func (r *Registry) Config(component string) *Config {
	e, ok := r.entries.Load(component)
	if !ok {
		return nil
	}
	if h := e.(*entry).cur.Load(); h != nil {
		return h.cfg
	}
	return nil
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

func (e *entry) unlock() { <-e.sem }

// firstLoad waits for the first load of e's config, started by whichever caller comes first. The
// load runs on the registry's context bounded by RefreshTimeout, so each caller stops waiting when its
// own ctx ends without failing the load for the others. A failure is remembered for Wait, so a missing
// config does not cost every call a round trip.
func (r *Registry) firstLoad(ctx context.Context, e *entry) error {
	e.mu.Lock()
	if e.cur.Load() != nil {
		e.mu.Unlock()
		return nil
	}
	if p := e.lastErr.Load(); p != nil && r.opt.Now().UnixNano() < e.due.Load() {
		e.mu.Unlock()
		return *p
	}
	call := e.first
	if call == nil {
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
		return call.err
	case <-ctx.Done():
		return ctx.Err()
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
			if err = r.load(ctx, e); err != nil && !r.closed.Load() {
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
	defer func() { err = ctxErr(ctx, err) }()
	if r.closed.Load() {
		return ErrClosed
	}
	e, err := r.entry(component)
	if err != nil {
		return err
	}
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.unlock()
	return r.refreshLocked(ctx, e)
}

// refreshLocked is Refresh for a caller holding e.sem.
func (r *Registry) refreshLocked(ctx context.Context, e *entry) error {
	err := r.load(ctx, e)
	if err != nil && ended(ctx) {
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
	e.cur.Store(newHandle(client, cfg, canon))
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

// SetConfig validates cfg and stores it as component's config: the book's set_config. cfg is JSON
// ([]byte, string or json.RawMessage) or any value that encodes to a JSON object (a map, a struct).
// The JSON is stored as given (compacted), so a config in redis-py's keyword form stays readable by the
// book's Python code. If this registry already serves the component, it switches to the new config now;
// when that fails after the write (the config server went away, a certificate file is missing or is not
// a regular file), the error wraps ErrNotLoaded and the cause: the config is stored, and the old client
// keeps serving. Any other error means nothing was written. ctx bounds the write, the switch and the
// reading of the new config's TLS files; once it has ended, the error matches ctx.Err().
func (r *Registry) SetConfig(ctx context.Context, component string, cfg any) (err error) {
	defer func() { err = ctxErr(ctx, err) }()
	if r.closed.Load() {
		return ErrClosed
	}
	if err := checkComponent(component); err != nil {
		return err
	}
	key := r.Key(component)
	var raw []byte
	switch v := cfg.(type) {
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	case json.RawMessage:
		raw = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return &ConfigError{Key: key, Err: fmt.Errorf("%w: %v", ErrBadConfig, err)}
		}
		raw = b
	}
	if _, err := r.parse(raw); err != nil {
		return withKey(key, err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil { // cannot fail: parse accepted it
		return &ConfigError{Key: key, Err: fmt.Errorf("%w: %v", ErrBadConfig, err)}
	}
	if err := r.config.Set(ctx, key, buf.Bytes(), 0).Err(); err != nil {
		return &ConfigError{Key: key, Err: fmt.Errorf("writing config: %w", err)}
	}
	v, ok := r.entries.Load(component)
	if !ok {
		return nil // not served here: the first call reads it
	}
	// Under e's lock, so a load in flight (which may have read the old config) has finished first.
	e := v.(*entry)
	if err := e.lock(ctx); err != nil {
		return notLoaded(key, err)
	}
	defer e.unlock()
	if e.cur.Load() == nil {
		e.lastErr.Store(nil) // forget a remembered "no config"
		e.due.Store(0)
		return nil
	}
	if err := r.refreshLocked(ctx, e); err != nil {
		return notLoaded(key, err)
	}
	return nil
}

// Components lists the components this registry has been asked for, sorted.
func (r *Registry) Components() []string {
	var out []string
	r.entries.Range(func(k, _ any) bool {
		out = append(out, k.(string))
		return true
	})
	sort.Strings(out)
	return out
}

// Close closes every client the registry made, including ones still acquired, after waiting for
// background refreshes. Later calls return ErrClosed. It does not close the config client.
func (r *Registry) Close() error {
	r.mu.Lock()
	already := r.closed.Swap(true)
	r.mu.Unlock()
	if already {
		return nil
	}
	r.cancel() // background loads in flight end now
	r.bg.Wait()
	var errs []error
	r.entries.Range(func(_, v any) bool {
		e := v.(*entry)
		_ = e.lock(context.Background()) // a load in flight finishes (and sees closed) first
		if h := e.cur.Swap(nil); h != nil {
			h.closeOnce.Do(func() { errs = append(errs, h.client.Close()) })
		}
		e.unlock()
		return true
	})
	return errors.Join(errs...)
}
