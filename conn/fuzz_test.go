package conn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseConfig: any bytes give a config or a *ConfigError wrapping ErrBadConfig, never a panic;
// an accepted config never prints its password, and no error shows one. Findings live on in testdata/fuzz/FuzzParseConfig.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"host": "h", "port": 6379, "db": 0}`,
		`{"url": "redis://u:p@h:1/2"}`,
		`{"cluster": ["a:1", "b:2"], "password": "secret-pw"}`,
		`{"sentinel": {"master": "m", "addrs": ["s:1"]}}`,
		`{"unix_socket_path": "/s", "socket_timeout": 1e-9}`,
		`{"host": "h", "ssl": true, "ssl_cert_reqs": "CERT_NONE"}`,
		`{"addr": "[::1]:6379", "read_timeout": "1h"}`,
		`{"port": 1e300}`, `{"db": -0}`, `[]`, `null`, `"x"`, `{"host": null}`,
		`{"url": "redis://u:pass-word-1@h:x/0"}`, `{"password": "pass-word-1", "port": "x"}`,
		`{"host": "h", "ssl": true, "ssl_password": "pass-word-1"}`,
		`{"sentinel": {"master": "m", "addrs": ["s"], "password": "pass-word-1"}}`,
		`{"host": "fe80::1%eth0"}`, `{"addr": "[fe80::1%a:b@c]:1"}`, `{"url": "redis://[fe80::1%25en0]:1"}`,
		`{"sentinel": {"master": "redis://:pw@h:1/m", "addrs": ["[::1%lo]:1"]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrBadConfig) {
				t.Fatalf("error %v (%T) is not a *ConfigError wrapping ErrBadConfig", err, err)
			}
			for _, s := range fuzzSecrets(data) {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q shows the password %q", err, s)
				}
			}
			return
		}

		if c.Kind != KindSingle && c.Kind != KindCluster && c.Kind != KindSentinel {
			t.Fatalf("unknown kind %v", c.Kind)
		}
		// Names are shown as they are, so none holds more than a name's characters.
		if c.Master != "" && !nameBytes(c.Master) {
			t.Fatalf("master name %q accepted", c.Master)
		}
		addrs := c.Addrs
		if c.Network == "tcp" {
			addrs = append(addrs, c.Addr)
		}
		for _, a := range addrs {
			if _, zone, ok := strings.Cut(a, "%"); ok {
				zone, _, _ = strings.Cut(zone, "]")
				if len(zone) > maxZone || !nameBytes(zone) {
					t.Fatalf("address %q accepted: its zone is not an interface name", a)
				}
			}
		}
		// String() masks secrets: changing them must not change it.
		other := *c
		if other.Password != "" {
			other.Password = "other-" + other.Password
		}
		if other.SentinelPassword != "" {
			other.SentinelPassword = "other-" + other.SentinelPassword
		}
		if other.Username != "" {
			other.Username = "other-" + other.Username
		}
		if other.SentinelUsername != "" {
			other.SentinelUsername = "other-" + other.SentinelUsername
		}
		for _, show := range []func(c *Config) string{
			func(c *Config) string { return c.String() },
			func(c *Config) string { return fmt.Sprintf("%+v", *c) },
			func(c *Config) string { b, _ := json.Marshal(*c); return string(b) },
			func(c *Config) string { return fmt.Sprintf("%#v %q %s", c, *c, c) },
		} {
			if show(&other) != show(c) {
				t.Fatalf("config shown depends on the password: %s", show(c))
			}
		}
		// Parsing is deterministic: the same bytes give the same normalized config.
		again, err := ParseConfig(data)
		if err != nil || again.canonical() != c.canonical() {
			t.Fatalf("second parse differs: %v", err)
		}
		// Its stored form reads back to the same config.
		stored, err := c.StoredJSON()
		if err != nil {
			t.Fatalf("StoredJSON of a parsed config: %v", err)
		}
		if back, err := ParseConfig(stored); err != nil || !reflect.DeepEqual(back, c) {
			t.Fatalf("stored as %q, which parses to %v, %v", stored, back, err)
		}
	})
}

// fuzzSecrets returns the passwords in data that a message must not show: those at least 6 bytes long
// that appear in data exactly once, so a message showing one cannot have taken it from another field.
func fuzzSecrets(data []byte) []string {
	var obj map[string]any
	if json.Unmarshal(data, &obj) != nil {
		return nil
	}
	var cands []string
	add := func(v any) {
		if s, ok := v.(string); ok {
			cands = append(cands, s)
		}
	}
	add(obj["password"])
	add(obj["ssl_password"])
	if s, ok := obj["sentinel"].(map[string]any); ok {
		add(s["password"])
	}
	if s, ok := obj["url"].(string); ok {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				add(pw)
			}
		}
	}
	var out []string
	for _, s := range cands {
		if len(s) >= 6 && strings.Count(string(data), s) == 1 {
			out = append(out, s)
		}
	}
	return out
}

// FuzzSecrets generates the secret itself, from every byte class (URL and JSON punctuation, control
// bytes, non-ASCII and invalid UTF-8, spaces), places it in every field that can carry one, written
// as is or escaped, and searches every output for any 4-byte piece of it: each fmt verb and slog
// form of the error, or of the config when it parses. A piece counts only if the same config with
// another secret of the same shape does not show it too (so fixed text is not a finding).
func FuzzSecrets(f *testing.F) {
	secrets := []string{
		"Zx9Q/kq+Lm==", "pa/ss?wo#rd@x:y%zz", `quote"back\slash`, "sp ace\ttab\nnewline",
		"caf\u00e9-\u00fcber-\u6f22\u5b57", "bad\xff\xfe-utf8\xc3", "ctl\x00\x01\x1f\x7f-bytes",
		"%41%zz%2F@@//??##", "user:pass@host:1", "\xed\xa0\x80-surrogate", "aaaaaaaaaaaa",
	}
	// Every place with every writing (4 user-info escapings times 3 JSON ones), then every extra.
	for place := range len(secretPlaces) {
		for mode := range 12 {
			f.Add([]byte(secrets[(place+mode)%len(secrets)]), uint8(place), uint8(mode), uint8(0))
		}
	}
	for extra := range len(secretExtras) {
		for i, s := range secrets {
			f.Add([]byte(s), uint8(i+extra), uint8(i), uint8(extra))
		}
	}
	f.Fuzz(func(t *testing.T, secret []byte, place, mode, extra uint8) {
		if len(secret) < 8 || len(secret) > 64 || secretIsAName(secret, place) {
			return
		}
		build := func(s []byte) []byte { return secretDoc(s, place, mode, extra) }
		doc, other := build(secret), build(reshape(secret))
		outputs := secretOutputs
		if secretPlaces[int(place)%len(secretPlaces)].file {
			outputs = fileOutputs
		}
		got, ok := outputs(t, doc)
		base, okOther := outputs(t, other)
		if ok != okOther {
			return // the two secrets took different paths (a rune class differs): nothing to compare
		}
		// %#v prints pointers, whose addresses differ between the two runs and may hold any digits.
		shown := pointers.ReplaceAllString(strings.Join(got, "\n"), "0xPTR")
		fixed := pointers.ReplaceAllString(strings.Join(base, "\n"), "0xPTR")
		for _, form := range encodings(secret) {
			for i := 0; i+4 <= len(form); i++ {
				g := form[i : i+4]
				if strings.Contains(shown, g) && !strings.Contains(fixed, g) {
					t.Fatalf("config %q shows %q, a piece of its secret %q, in:\n%s", doc, g, secret, shown)
				}
			}
		}
	})
}

var pointers = regexp.MustCompile(`0x[0-9a-f]{8,}`) // heap addresses, as %#v prints them

// secretPlaces are the configs a secret can sit in; %s is the secret, written per mode.
var secretPlaces = []struct {
	json string
	url  bool // %s sits in a URL's user info: mode also picks its escaping
	zone bool // %s is an IPv6 zone, shown when it is an interface name
	name bool // %s is a sentinel master name, shown when it is one
	file bool // %s is in a TLS file's path: searched for in errors only (String shows a path)
}{
	{json: `{"host": "h", "password": "%s"}`},
	{json: `{"host": "h", "ssl": true, "ssl_certfile": "c.pem", "ssl_keyfile": "k.pem", "ssl_password": "%s"}`},
	{json: `{"sentinel": {"master": "m", "addrs": ["s:1"], "password": "%s"}}`},
	{json: `{"sentinel": {"master": "m", "addrs": ["s:1"], "username": "%s", "password": "%s"}}`},
	{json: `{"host": "h", "username": "%s", "password": "%s"}`},
	{json: `{"url": "redis://user:%s@10.0.0.5:6379/0"}`, url: true},
	{json: `{"url": "rediss://%s@h:6380"}`, url: true},
	{json: `{"url": "redis://:%s@h"}`, url: true},
	{json: `{"url": "unix://u:%s@/run/redis.sock?db=1"}`, url: true},
	{json: `{"addr": "user:%s@h:6379"}`, url: true},
	{json: `{"addr": "redis://user:%s@h:6379"}`, url: true},
	{json: `{"addr": "user:%s@/run/r.sock", "network": "unix"}`, url: true},
	{json: `{"cluster": ["a:1", "user:%s@h:7000"]}`, url: true},
	{json: `{"cluster": ["redis://default:%s@h:7000"]}`, url: true},
	{json: `{"sentinel": {"master": "m", "addrs": ["user:%s@s:26379"]}}`, url: true},
	{json: `{"host": "user:%s@h"}`, url: true},
	{json: `{"unix_socket_path": "unix://user:%s@/run/r.sock"}`, url: true},
	{json: `{"url": "redis://user:%s@h:6379/0", "db": 1}`, url: true},
	{json: `{"url": "redis://user:%s@h:6379/0?pool_size=x"}`, url: true},
	// Places where a secret sits in a name (IPv6 zones, master names) or a file path, added after
	// the others so that the corpus's place numbers keep their meaning.
	{json: `{"host": "fe80::1%%s"}`, zone: true},
	{json: `{"addr": "[fe80::1%%s]:6379"}`, zone: true},
	{json: `{"cluster": ["a:1", "[fe80::1%%s]:7000"]}`, zone: true},
	{json: `{"sentinel": {"master": "m", "addrs": ["[fe80::1%%s]:26379"]}}`, zone: true},
	{json: `{"url": "redis://[fe80::1%25%s]:6379"}`, url: true, zone: true},
	{json: `{"host": "h", "ssl": true, "ssl_server_name": "fe80::1%%s"}`, zone: true},
	{json: `{"sentinel": {"master": "%s", "addrs": ["s:1"]}}`, name: true},
	{json: `{"sentinel": {"master": "redis://:%s@10.0.0.5:26379/mymaster", "addrs": ["s:1"]}}`, url: true},
	{json: `{"host": "h", "ssl": true, "ssl_ca_certs": "/nonexistent/%s"}`, file: true},
	{json: `{"host": "h", "ssl": true, "ssl_ca_path": "/dev/null/%s"}`, file: true},
	{json: `{"host": "h", "ssl": true, "ssl_certfile": "/nonexistent/%s.pem", "ssl_keyfile": "/nonexistent/k.pem"}`, file: true},
	{json: `{"cluster": ["a:1"], "ssl": true, "ssl_certfile": "/dev/null", "ssl_keyfile": "/nonexistent/%s"}`, file: true},
}

// secretIsAName reports whether secret, at place, is a name that is shown by design: an interface
// name as a zone, or a sentinel master name. Such a secret cannot be told from a name.
func secretIsAName(secret []byte, place uint8) bool {
	p := secretPlaces[int(place)%len(secretPlaces)]
	plain := nameBytes(string(secret))
	return p.zone && plain && len(secret) <= maxZone || p.name && plain
}

// secretExtras add a second problem (or none), so the secret meets other error paths too.
var secretExtras = []string{"", `, "port": "x"`, `, "client_name": "a b"`, `, "hots": 1`, `, "db": -1`,
	`, "read_timeout": -1`, `, "ssl_cert_reqs": "maybe"`}

func secretDoc(s []byte, place, mode, extra uint8) []byte {
	p := secretPlaces[int(place)%len(secretPlaces)]
	v := s
	if p.url {
		v = escapeUserinfo(s, mode)
	}
	lit := jsonLiteral(v, mode/4)
	doc := strings.ReplaceAll(p.json, "%s", lit)
	if e := secretExtras[int(extra)%len(secretExtras)]; e != "" {
		doc = doc[:len(doc)-1] + e + "}"
	}
	return []byte(doc)
}

// escapeUserinfo writes s as a URL's user info: raw, escaped as net/url does, or with only / ? # @ %
// escaped.
func escapeUserinfo(s []byte, mode uint8) []byte {
	switch mode % 4 {
	case 1:
		return []byte(url.PathEscape(string(s)))
	case 2:
		return []byte(url.User(string(s)).String())
	case 3:
		var b bytes.Buffer
		for _, c := range s {
			if strings.IndexByte("/?#@%", c) >= 0 {
				fmt.Fprintf(&b, "%%%02X", c)
			} else {
				b.WriteByte(c)
			}
		}
		return b.Bytes()
	}
	return s
}

// jsonLiteral writes s inside a JSON string (without the quotes): as encoding/json does (invalid
// UTF-8 becomes U+FFFD); with only what JSON requires escaped, so invalid UTF-8 stays; or with every
// rune but letters and digits as \u escapes.
func jsonLiteral(s []byte, mode uint8) string {
	var b strings.Builder
	switch mode % 3 {
	case 0:
		j, _ := json.Marshal(string(s))
		return string(j[1 : len(j)-1])
	case 1:
		for _, c := range s {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20:
				fmt.Fprintf(&b, `\u%04x`, c)
			default:
				b.WriteByte(c)
			}
		}
	default:
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRune(s[i:])
			switch {
			case r == utf8.RuneError && n == 1:
				b.WriteByte(s[i])
			case r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'):
				b.WriteRune(r)
			case r >= 0x10000:
				r1, r2 := utf16Pair(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			default:
				fmt.Fprintf(&b, `\u%04x`, r)
			}
			i += n
		}
	}
	return b.String()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF
}

// reshape returns another secret of the same shape: letters, digits and UTF-8 continuation bytes
// changed within their class (so hex stays hex, valid UTF-8 stays valid), everything else kept.
func reshape(s []byte) []byte {
	out := make([]byte, len(s))
	rot := func(c, lo, hi, k byte) byte { return lo + (c-lo+k)%(hi-lo+1) }
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'f':
			c = rot(c, 'a', 'f', 3)
		case c >= 'g' && c <= 'z':
			c = rot(c, 'g', 'z', 7)
		case c >= 'A' && c <= 'F':
			c = rot(c, 'A', 'F', 3)
		case c >= 'G' && c <= 'Z':
			c = rot(c, 'G', 'Z', 7)
		case c >= '0' && c <= '9':
			c = rot(c, '0', '9', 5)
		case c >= 0x80 && c <= 0x8f:
			c = rot(c, 0x80, 0x8f, 5)
		case c >= 0x90 && c <= 0x9f:
			c = rot(c, 0x90, 0x9f, 5)
		case c >= 0xa0 && c <= 0xbf:
			c = rot(c, 0xa0, 0xbf, 11)
		}
		out[i] = c
	}
	return out
}

// encodings are the forms a leaked secret could take in a message: raw, quoted, JSON-escaped,
// URL-escaped, and with invalid UTF-8 replaced.
func encodings(s []byte) []string {
	q := strconv.Quote(string(s))
	j, _ := json.Marshal(string(s))
	return []string{string(s), q[1 : len(q)-1], string(j[1 : len(j)-1]), url.QueryEscape(string(s)),
		url.PathEscape(string(s)), url.User(string(s)).String(), strings.ToValidUTF8(string(s), "\uFFFD"),
		strconv.QuoteToASCII(string(s))}
}

// secretOutputs parses doc and renders what a program could print: the error through every fmt verb,
// its chain, and slog; or the config in every form shown covers. ok reports whether doc parsed.
func secretOutputs(t *testing.T, doc []byte) (out []string, ok bool) {
	c, err := ParseConfig(doc)
	if err == nil {
		return shown(t, c), true
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrBadConfig) {
		t.Fatalf("ParseConfig(%q) = %v (%T); want a *ConfigError wrapping ErrBadConfig", doc, err, err)
	}
	return errorOutputs(err, ce), false
}

// fileOutputs is secretOutputs for a config naming a TLS file that cannot be read: the error of
// ParseConfig, or else of NewClient, which must fail. A config's paths are shown by String, so only
// errors are rendered; ok reports whether doc parsed.
func fileOutputs(t *testing.T, doc []byte) (out []string, ok bool) {
	c, err := ParseConfig(doc)
	if err != nil {
		return secretOutputs(t, doc)
	}
	client, err := c.NewClient()
	if client != nil {
		client.Close()
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrBadConfig) {
		t.Fatalf("NewClient of %q = %v (%T); want a *ConfigError wrapping ErrBadConfig", doc, err, err)
	}
	return errorOutputs(err, ce), true
}

// errorOutputs renders err, its *ConfigError ce, and every error in its tree, through each fmt
// verb, slog and encoding/json.
func errorOutputs(err error, ce *ConfigError) (out []string) {
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out = append(out, fmt.Sprintf(verb, err), fmt.Sprintf(verb, ce))
	}
	var walk func(e error)
	walk = func(e error) {
		if e == nil {
			return
		}
		out = append(out, e.Error())
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, noTime) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, noTime) },
	} {
		var buf bytes.Buffer
		slog.New(h(&buf)).Error("parse", "err", err, "field", ce.Field)
		out = append(out, buf.String())
	}
	b, _ := json.Marshal(ce)
	return append(out, string(b))
}

// noTime drops slog's time stamp, which differs between any two runs.
var noTime = &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}}
