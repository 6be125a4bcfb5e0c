package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ria-go/ria/redistest"
)

// TestSecretsNeverShown generates passwords from every byte class, stores them in every place a
// config holds one (valid configs whose server takes the password, configs with a wrong one,
// invalid configs, text that is not JSON, the config Redis's own URL), runs every command, and
// searches every output (tables, --json, errors, help) for any 4-byte piece of the password in any
// encoding. A piece counts only when the same run with another password of the same shape does not
// show it too, so fixed text is not a finding (nor a piece of digits only: measurements vary).
func TestSecretsNeverShown(t *testing.T) {
	secrets := []string{
		"Zx9Q/kq+Lm==", "pa/ss?wo#rd@x:y%zz", `quote"back\slash`, "sp ace\ttab\nnewline",
		"caf\u00e9-\u00fcber-\u6f22\u5b57", "ctl\x01\x1f\x7f-bytes", "%41%zz%2F@@//??##", "user:pass@host:1",
		"bad\xff\xfe-utf8\xc3",
	}
	rng := rand.New(rand.NewPCG(41, 42))
	classes := []string{"abcxyzABCXYZ", "0123456789", `"\/`, "?#@:%&=+", " \t\n", "\x01\x1f\x7f", "\u00e9\u6f22", "{}[],"}
	for len(secrets) < 13 {
		var b strings.Builder
		for b.Len() < 10+rng.IntN(20) {
			cl := classes[rng.IntN(len(classes))]
			rs := []rune(cl)
			b.WriteRune(rs[rng.IntN(len(rs))])
		}
		secrets = append(secrets, b.String())
	}
	srv := redistest.RunT(t, nil)
	dead := deadAddr(t)
	admin := srv.Client(t)
	acl := []any{"ACL", "SETUSER", "default", "resetpass"}
	for _, s := range secrets {
		acl = append(acl, ">"+s, ">"+string(reshape([]byte(s))))
	}
	if err := admin.Do(context.Background(), acl...).Err(); err != nil {
		t.Fatal(err)
	}
	for i, secret := range secrets {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			shown := secretRun(t, srv.Addr(), dead, secret, true)
			fixed := secretRun(t, srv.Addr(), dead, string(reshape([]byte(secret))), false)
			for _, form := range encodings([]byte(secret)) {
				for j := 0; j+4 <= len(form); j++ {
					g := form[j : j+4]
					if strings.Trim(g, "0123456789") == "" {
						continue // measurements (memory, round trips) differ between runs; digits alone prove nothing
					}
					if strings.Contains(shown, g) && !strings.Contains(fixed, g) {
						at := strings.Index(shown, g)
						t.Fatalf("secret %q: output shows %q:\n...%s...", secret, g, shown[max(0, at-300):min(len(shown), at+100)])
					}
				}
			}
		})
	}
}

// secretRun stores configs holding secret, runs every command, and returns all their output. With
// check it also makes sure the runs did reach the servers (a test that only saw errors would prove
// little) and that --show-secrets does show the secret (so the search can find one).
func secretRun(t *testing.T, srv, dead, secret string, check bool) string {
	h := newHarness(t)
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	raw := func(s string) string { // JSON string with only what JSON requires escaped, invalid UTF-8 kept
		var b strings.Builder
		b.WriteByte('"')
		for _, c := range []byte(s) {
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
		return b.String() + `"`
	}
	userURL := url.UserPassword("default", secret).String()
	pw := fmt.Sprintf(`{"addr": %q, "password": %s}`, srv, raw(secret))
	viaURL := fmt.Sprintf(`{"url": %s}`, q("redis://"+userURL+"@"+srv+"/0"))
	user := fmt.Sprintf(`{"addr": %q, "username": %s, "password": %s}`, srv, raw(secret), raw(secret))
	for comp, cfg := range map[string]string{
		"pw": pw, "url": viaURL, "user": user,
		"sent":  fmt.Sprintf(`{"sentinel": {"master": "m", "addrs": [%q], "password": %s}}`, dead, raw(secret)),
		"bad":   fmt.Sprintf(`{"addr": %q, "password": %s, "hots": 1}`, srv, raw(secret)),
		"paste": fmt.Sprintf(`{"addr": %s}`, raw("u:"+secret+"@h:1")),
		"trunc": `{"password": "` + secret,
		"sh:0":  pw, "sh:1": viaURL, "sh:2": user,
		"cnt": fmt.Sprintf(`{"addr": %q, "password": %s, "db": 1}`, srv, raw(secret)), "cnt:0": pw, "cnt:1": viaURL,
	} {
		h.store(comp, cfg)
	}
	runs := [][]string{
		{"--help"}, {"help", "config", "set"},
		{"config", "list"}, {"config", "list", "--json"},
		{"config", "check"}, {"config", "check", "--json"},
		{"config", "set", "pw", fmt.Sprintf(`{"addr": %q, "password": %s, "client_name": "n"}`, srv, raw(secret))},
		{"config", "set", "user", pw, "--json"},
		{"config", "set", "url", strings.Replace(viaURL, "/0", "/2", 1), "--dry-run"},
		{"config", "set", "new", fmt.Sprintf(`{"addr": %q, "password": %s}`, dead, raw(secret))},
		{"config", "set", "new", fmt.Sprintf(`{"password": %s, "hots": 1}`, raw(secret))},
		{"config", "set", "new", `{"password": "` + secret},
		{"config", "set", "new", fmt.Sprintf(`{"url": %s}`, q("redis://u:"+secret+"@h:notaport"))},
		{"config", "rm", "trunc", "--yes"},
		{"route", "k", "--component", "sh", "--shards", "3"},
		{"route", "k", "--component", "pw", "--json"},
		{"shards", "status", "sh"}, {"shards", "status", "sh", "--json"},
		{"visits", "count", "--component", "cnt", "--shards", "2"},
		{"visits", "recount", "--component", "cnt", "--shards", "2", "--json"},
		{"market", "ls", "--component", "url"}, {"market", "user", "1", "--component", "user"},
		{"logs", "progress", "--component", "pw"}, {"logs", "progress", "--component", "sent", "--json"},
		{"sync", "status", "pw", "url"}, {"sync", "status", "url", "user", "--json"},
		{"--config", "redis://" + url.UserPassword("u", secret).String() + "@" + dead, "config", "list"},
		{"--config", "redis://" + url.UserPassword("u", secret).String() + "@h:notaport", "config", "list"},
		{"--config", "u:" + secret + "@" + dead, "config", "list"},
	}
	for _, comp := range []string{"pw", "url", "user", "sent", "bad", "paste", "sh:1", "missing"} {
		runs = append(runs, []string{"config", "get", comp}, []string{"config", "get", comp, "--json"})
	}
	for _, args := range runs {
		h.run("y\n", args...)
	}
	h.env["RIA_CONFIG_URL"] = "rediss://" + userURL + "@" + dead
	h.run("", "config", "check")
	h.env["RIA_CONFIG_URL"] = "redis://" + shared.cfg.Addr()
	if check {
		reach := []string{"config", "check", "url", "--json"}
		if utf8.ValidString(secret) {
			reach = append(reach, "pw") // JSON strings hold only valid UTF-8: the URL escapes the others
		}
		if r := h.run("", reach...); r.code != exitOK {
			t.Fatalf("configs with the server's password do not PING: %s", r)
		}
		r := h.run("", "config", "get", "pw", "--show-secrets")
		if !strings.Contains(r.stdout, strings.TrimSuffix(strings.TrimPrefix(raw(secret), `"`), `"`)) &&
			!strings.Contains(r.stdout, strings.TrimSuffix(strings.TrimPrefix(q(secret), `"`), `"`)) {
			t.Fatalf("--show-secrets does not show the secret:\n%s", r)
		}
		h.outputs = h.outputs[:len(h.outputs)-2] // that run may show it
	}
	return strings.Join(h.outputs, "\n")
}

// encodings are the forms a leaked secret could take: raw, quoted, JSON-escaped, URL-escaped, with
// invalid UTF-8 replaced.
func encodings(s []byte) []string {
	q := strconv.Quote(string(s))
	j, _ := json.Marshal(string(s))
	qa := strconv.QuoteToASCII(string(s))
	return []string{string(s), q[1 : len(q)-1], string(j[1 : len(j)-1]), url.QueryEscape(string(s)),
		url.PathEscape(string(s)), url.User(string(s)).String(), strings.ToValidUTF8(string(s), "\uFFFD"), qa[1 : len(qa)-1]}
}

// reshape returns another secret of the same shape: letters, digits and UTF-8 continuation bytes
// changed within their class, everything else kept.
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
