package conn

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func TestStoredComponentsAndConfig(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true})
	defer c.Close()
	// A prefix holding SCAN's pattern characters must match only itself.
	const prefix = `cfg[1]*?\:`
	reg, err := New(c, &Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for _, name := range []string{"unique:0", "market", "unique"} {
		if err := reg.SetConfig(ctx, name, `{"port": 6380}`); err != nil {
			t.Fatal(err)
		}
	}
	m.Set(`cfg1xx:other`, "{}")   // matches the prefix read as a pattern
	m.Set(prefix, "{}")           // the prefix alone names no component
	m.Set("config:redis:x", "{}") // another prefix
	got, err := reg.StoredComponents(ctx)
	if want := []string{"market", "unique", "unique:0"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("StoredComponents = %q, %v; want %q", got, err, want)
	}
	raw, err := reg.StoredConfig(ctx, "market")
	if err != nil || string(raw) != `{"port":6380}` {
		t.Fatalf("StoredConfig = %s, %v", raw, err)
	}
	if _, err := reg.StoredConfig(ctx, "nothing"); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("missing: %v; want ErrNoConfig", err)
	}
	if _, err := reg.StoredConfig(ctx, "a b"); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("bad name: %v; want ErrBadConfig", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := reg.StoredComponents(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("ended ctx: %v", err)
	}
	if _, err := reg.StoredConfig(cctx, "market"); !errors.Is(err, context.Canceled) {
		t.Fatalf("ended ctx: %v", err)
	}
}

func TestMaskJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"host": "h", "port": 6380, "password": "s3cretpw", "username": "app"}`,
			`{"host":"h","password":"*****","port":6380,"username":"*****"}`},
		{`{"url": "rediss://app:s3cretpw@h:6380/2"}`, `{"url":"rediss://*****@h:6380/2"}`},
		{`{"url": "redis://h:6380/2"}`, `{"url":"redis://h:6380/2"}`},
		{`{"sentinel": {"master": "m", "addrs": ["s:1"], "password": "s3cretpw"}}`,
			`{"sentinel":{"addrs":["s:1"],"master":"m","password":"*****"}}`},
		{`{"password": "", "db": 1}`, `{"db":1,"password":""}`},
		{`{"password": null}`, `{"password":null}`},
		// A password repeated in another field is masked there too.
		{`{"password": "s3cretpw", "client_name": "s3cretpw"}`, `{"client_name":"*****","password":"*****"}`},
	} {
		got, err := MaskJSON([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("MaskJSON(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	// An invalid config: every string masked, the parse error returned with the masked text.
	got, err := MaskJSON([]byte(`{"addr": "u:s3cretpw@h:1", "password": 12345678, "port": 1}`))
	if !errors.Is(err, ErrBadConfig) || string(got) != `{"addr":"*****","password":"*****","port":1}` {
		t.Errorf("invalid config: %s, %v", got, err)
	}
	for _, bad := range []string{``, `[1]`, `"s3cretpw"`, `{"a":`, `{} {}`} {
		if got, err := MaskJSON([]byte(bad)); got != nil || !errors.Is(err, ErrBadConfig) {
			t.Errorf("MaskJSON(%q) = %s, %v; want nothing and ErrBadConfig", bad, got, err)
		}
	}
}

// FuzzMaskJSON generates the secret itself (every byte class, every place a config holds one, every
// way of writing it) and searches MaskJSON's output and error for any 4-byte piece of it, counting a
// piece only when the same config with another secret of the same shape does not show it too.
func FuzzMaskJSON(f *testing.F) {
	for place := range len(secretPlaces) {
		for mode := range 12 {
			f.Add([]byte("Zx9Q/kq+Lm==-"+strings.Repeat("é", mode)), uint8(place), uint8(mode), uint8(mode%7))
		}
	}
	f.Add([]byte("pa/ss?wo#rd@x:y%zz"), uint8(5), uint8(0), uint8(0))
	f.Add([]byte(`quote"back\slash`), uint8(0), uint8(4), uint8(1))
	f.Fuzz(func(t *testing.T, secret []byte, place, mode, extra uint8) {
		if len(secret) < 8 || len(secret) > 64 || secretIsAName(secret, place) ||
			secretPlaces[int(place)%len(secretPlaces)].file { // a path is not masked: see FuzzSecrets
			return
		}
		show := func(doc []byte) string {
			out, err := MaskJSON(doc)
			s := string(out)
			if err != nil {
				s += "\n" + err.Error()
			}
			return s
		}
		doc := secretDoc(secret, place, mode, extra)
		other := secretDoc(reshape(secret), place, mode, extra)
		shown, fixed := show(doc), show(other)
		for _, form := range encodings(secret) {
			for i := 0; i+4 <= len(form); i++ {
				if g := form[i : i+4]; strings.Contains(shown, g) && !strings.Contains(fixed, g) {
					t.Fatalf("MaskJSON(%s) shows %q, a piece of %q:\n%s", doc, g, secret, shown)
				}
			}
		}
		if out, err := MaskJSON(doc); out != nil && !json.Valid(out) {
			t.Fatalf("MaskJSON(%s) = %s (%v): not JSON", doc, out, err)
		}
	})
}
