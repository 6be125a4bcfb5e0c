package conn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// Read-only views of the config store, for operators and tools.

// maxStored bounds StoredComponents: a prefix matching more keys than this is not a config store.
const maxStored = 100000

// StoredComponents lists the components that have a config stored under the registry's prefix,
// sorted: the keys SCAN finds (on every master, when the config client is a cluster's), without
// the prefix. It reads nothing else and does not load any component.
func (r *Registry) StoredComponents(ctx context.Context) (_ []string, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	match := globEscape(r.opt.Prefix) + "*"
	var mu sync.Mutex
	seen := map[string]bool{}
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, match, 1000).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			for _, k := range keys {
				if name, ok := strings.CutPrefix(k, r.opt.Prefix); ok && name != "" {
					seen[name] = true
				}
			}
			n := len(seen)
			mu.Unlock()
			if n > maxStored {
				return fmt.Errorf("conn: more than %d keys match %s*", maxStored, r.opt.Prefix)
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := r.config.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return scan(ctx, m) })
	} else {
		err = scan(ctx, r.config)
	}
	if err != nil {
		return nil, fmt.Errorf("conn: listing %s*: %w", r.opt.Prefix, err)
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// globEscape quotes the characters SCAN's MATCH reads as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(`*?[]\`, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// StoredConfig returns component's config exactly as stored, unparsed: a *ConfigError wrapping
// ErrNoConfig when there is none. The bytes may hold passwords: show them through MaskJSON.
func (r *Registry) StoredConfig(ctx context.Context, component string) (_ []byte, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if err := checkComponent(component); err != nil {
		return nil, err
	}
	key := r.Key(component)
	raw, err := r.config.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, &ConfigError{Key: key, Err: ErrNoConfig}
	}
	if err != nil {
		return nil, &ConfigError{Key: key, Err: fmt.Errorf("reading config: %w", err)}
	}
	return raw, nil
}

// Masked is what MaskJSON puts in place of a secret.
const Masked = "*****"

// secretKeys are the members whose value is a secret wherever they appear (at the top level or in
// "sentinel"): the book's redis-py keywords and their sentinel forms.
var secretKeys = map[string]bool{
	"password": true, "username": true, "ssl_password": true,
	"sentinel_password": true, "sentinel_username": true,
}

// MaskJSON returns a stored config's JSON (an object) with its secrets replaced by Masked, its
// members sorted by name, for showing to people. Passwords and user names, at any depth, are masked
// whatever their type, and a URL's user part (all of what comes before its last "@"). When the
// config does not parse (ParseConfig's error is returned with the masked text), a field meant to
// name a server may hold pasted credentials, so every string is masked too. When it parses, a
// string holding any of the config's passwords or user names is masked as well. Text that is not a
// JSON object is an error and nothing is returned: it cannot be masked.
func MaskJSON(raw []byte) ([]byte, error) {
	cfg, perr := ParseConfig(raw)
	var secrets []string
	if perr == nil {
		for _, s := range []string{cfg.Password, cfg.Username, cfg.SentinelPassword, cfg.SentinelUsername} {
			if len(s) >= 4 {
				secrets = append(secrets, s)
			}
		}
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("%w: not JSON, so it cannot be shown masked", ErrBadConfig)}
	}
	obj, ok := v.(map[string]any)
	if !ok || d.More() {
		return nil, &ConfigError{Err: fmt.Errorf("%w: not a JSON object, so it cannot be shown masked", ErrBadConfig)}
	}
	masked := maskValue("", obj, perr != nil, secrets)
	b, err := json.Marshal(masked)
	if err != nil { // cannot happen: decoded JSON encodes
		return nil, &ConfigError{Err: fmt.Errorf("%w: %v", ErrBadConfig, err)}
	}
	return b, perr
}

func maskValue(key string, v any, allStrings bool, secrets []string) any {
	if secretKeys[key] {
		if v == nil || v == "" {
			return v
		}
		return Masked
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = maskValue(k, e, allStrings, secrets)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = maskValue("", e, allStrings, secrets)
		}
		return out
	case string:
		if allStrings && x != "" {
			return Masked
		}
		if key == "url" {
			x = maskUserinfo(x)
		}
		for _, s := range secrets {
			if strings.Contains(x, s) {
				return Masked
			}
		}
		return x
	}
	return v
}

// maskUserinfo replaces a URL's user part, everything between "://" and the last "@", with Masked.
// The last "@", not the first: a password with a raw "@" would otherwise show its tail. A leading
// "@" (a Linux abstract socket's name) has no user part.
func maskUserinfo(u string) string {
	at := strings.LastIndexByte(u, '@')
	if at <= 0 {
		return u
	}
	start := 0
	if i := strings.Index(u, "://"); i >= 0 && i < at {
		start = i + 3
	}
	return u[:start] + Masked + u[at:]
}

// maskZone masks an address built by hand whose IPv6 zone ParseConfig would refuse: a zone ("%...")
// may hold anything, credentials included.
func maskZone(a string) string {
	if !strings.Contains(a, "%") {
		return a
	}
	host := a
	if h, _, err := net.SplitHostPort(a); err == nil {
		host = h
	}
	if checkHost(host) != nil {
		return Masked
	}
	return a
}
