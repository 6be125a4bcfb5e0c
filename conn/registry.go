package conn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
	"github.com/ria-go/ria/internal/option"
)

// DefaultPrefix is the book's key prefix for connection configs.
const DefaultPrefix = "config:redis:"

// Options configure a Registry.
type Options struct {
	// Wait is how often a component's config is re-read: the book's wait. A failed first load is
	// remembered for as long, so a missing config does not cost every call a round trip.
	// default: 1 second; -1: never re-read (a config, or a first load's failure, stays until
	// Refresh or SetConfig)
	Wait time.Duration

	// Prefix is prepended to a component's name to make its config key.
	// default: "config:redis:"
	Prefix string

	// RefreshTimeout bounds one read of a config by a first load or a background refresh. Both run on
	// the registry's own context, not a caller's, so one caller's cancelled context fails no one else.
	// default: 1 second; -1: no timeout (the config client's own timeouts end a read; Close stops
	// waiting for it)
	RefreshTimeout time.Duration

	// Now is the clock; tests inject one to drive refreshes.
	// default: time.Now
	Now func() time.Time

	// OnRefreshError, when set, is called (from the refreshing goroutine, with no registry lock held)
	// each time a background refresh fails; the cached client keeps serving. Err reports the latest
	// failure too. The component's next background refresh waits until it returns.
	OnRefreshError func(component string, err error)

	// PoolSize is the connection pool of each client made from a config that sets none (pool_size;
	// per node for a cluster). go-redis's default, 10 per GOMAXPROCS, makes goroutines queue for a
	// connection once more than that call at once, and the queue cost more CPU per call than more
	// connections did (see benchmarks, "concurrency"). Connections are dialed on demand. Config
	// returns the config as stored, without it.
	// default: 128, or 10 per GOMAXPROCS where that is more; -1: go-redis's default
	PoolSize int

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

// ErrBadOption: an Options field holds a value the option rule refuses. The rule is the same in every
// package of the module (go-redis's): 0 means the default, -1 means off where the field's doc says
// so, and any other negative value is an error. The error is an *OptionError naming the field;
// ErrBadOption is one value shared by all the packages (market.ErrBadOption is the same).
var ErrBadOption = option.ErrBadOption

// OptionError is the error for a refused Options field: it names the Options type, the field and
// the value, and matches ErrBadOption.
type OptionError = option.Error

var optionsOf = option.Of{Type: "conn.Options"}

// never stands for an off Wait or RefreshTimeout once init has checked them: later than any
// deadline a registry will see, and small enough that Now().Add(never) stays a valid UnixNano.
const never = 100 * 365 * 24 * time.Hour

// init checks o by the option rule and fills the defaults; an off Wait or RefreshTimeout becomes
// never.
func (o *Options) init() error {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	err := errors.Join(
		option.Fill(optionsOf, "Wait", &o.Wait, time.Second, true),
		option.Fill(optionsOf, "RefreshTimeout", &o.RefreshTimeout, time.Second, true),
		option.Fill(optionsOf, "PoolSize", &o.PoolSize, max(128, 10*runtime.GOMAXPROCS(0)), true),
	)
	if o.Wait == option.Off {
		o.Wait = never
	}
	if o.RefreshTimeout == option.Off {
		o.RefreshTimeout = never
	}
	return err
}

// newClient makes component's client, within ctx unless a hook makes it. A hook gets the config with
// the registry's PoolSize filled in.
func (r *Registry) newClient(ctx context.Context, component string, cfg *Config) (redis.UniversalClient, error) {
	if cfg.PoolSize == 0 && r.opt.PoolSize > 0 {
		cfg = cfg.clone()
		cfg.PoolSize = r.opt.PoolSize
	}
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
// server that stops answering, and only config's own ReadTimeout (3 s by default) does. An option
// the rule refuses is an *OptionError (see ErrBadOption); New makes no I/O.
func New(config redis.Cmdable, opt *Options) (*Registry, error) {
	r := &Registry{config: config}
	if opt != nil {
		r.opt = *opt
	}
	if err := r.opt.init(); err != nil {
		return nil, err
	}
	r.stop, r.cancel = context.WithCancel(context.Background())
	return r, nil
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
		return nil, nil, noretry.CtxErr(ctx, err)
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
			// Another caller's refresh may have come and gone between the due check and the swap.
			if now < e.due.Load() {
				e.refreshing.Store(false)
			} else {
				r.refreshInBackground(e)
			}
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
	defer func() { err = noretry.CtxErr(ctx, err) }()
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

// Config returns a copy of the config the component's current client was made from (nil before the
// first load): change it and pass it to SetConfig to store the change, or build a client of one's own
// from its Options, ClusterOptions or FailoverOptions.
func (r *Registry) Config(component string) *Config {
	e, ok := r.entries.Load(component)
	if !ok {
		return nil
	}
	if h := e.(*entry).cur.Load(); h != nil {
		return h.cfg.clone()
	}
	return nil
}

// SetConfig validates cfg and stores it as component's config: the book's set_config. cfg is JSON
// ([]byte, string or json.RawMessage), a *Config or Config (stored as its StoredJSON, secrets
// included, so a config read with Config can be changed and written back), or any other value that
// encodes to a JSON object (a map[string]any, a struct). JSON is stored as given (compacted), so a
// config in redis-py's keyword form stays readable by the book's Python code. If this registry
// already serves the component, it switches to the new config now; when that fails after the write
// (the config server went away, a certificate file is missing or is not a regular file), the error
// wraps ErrNotLoaded and the cause: the config is stored, and the old client keeps serving. Any other error means nothing was written. ctx bounds the write, the switch and the
// reading of the new config's TLS files; once it has ended, the error matches ctx.Err().
func (r *Registry) SetConfig(ctx context.Context, component string, cfg any) (err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
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
	case *Config:
		b, err := v.StoredJSON()
		if err != nil {
			return withKey(key, err)
		}
		raw = b
	case Config:
		b, err := v.StoredJSON()
		if err != nil {
			return withKey(key, err)
		}
		raw = b
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
	if err := r.lockEntry(ctx, e); err != nil {
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

// closeGrace bounds how long Close waits for background loads. go-redis ends a socket read at its
// deadline, not when its context is cancelled, so a read of a config server that stopped answering
// may outlast Close by the config client's ReadTimeout, or forever with none.
const closeGrace = 500 * time.Millisecond

// Close closes every client the registry made, including ones still acquired. Callers waiting for a
// first load, or for another load to finish (Refresh, SetConfig), get ErrClosed at once; later calls
// return ErrClosed. It waits
// up to half a second for background loads: one still reading from the config server then is left to
// end with the config client's own timeout, and whatever it reads is discarded (a client it makes is
// closed). It does not close the config client.
func (r *Registry) Close() error {
	r.mu.Lock()
	already := r.closed.Swap(true)
	r.mu.Unlock()
	if already {
		return nil
	}
	r.cancel() // background loads in flight end now, unless stuck in a read
	done := make(chan struct{})
	go func() {
		r.bg.Wait()
		close(done)
	}()
	grace := time.NewTimer(closeGrace)
	select {
	case <-done:
	case <-grace.C:
	}
	grace.Stop()
	var errs []error
	r.entries.Range(func(_, v any) bool {
		// No lock: a load still running sees closed after installing its client and closes it (see
		// install), so Close need not wait for it.
		if h := v.(*entry).cur.Swap(nil); h != nil {
			h.closeOnce.Do(func() { errs = append(errs, h.client.Close()) })
		}
		return true
	})
	return errors.Join(errs...)
}
