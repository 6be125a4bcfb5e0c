package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/redistest"
)

// The life of a config: set (PINGed, diffed, written), get, list, an unchanged set, a change, a dry
// run, and rm refused without confirmation, then confirmed.
func TestConfigLifecycle(t *testing.T) {
	h := newHarness(t)
	cfg, _ := dataDB(t)
	r := h.want(exitOK, "config", "set", "market", cfg)
	contains(t, r, "none stored; new config:", `+ addr: "`+shared.data.Addr()+`"`, "PING "+shared.data.Addr(), "ok", "written: "+h.prefix+"market")
	if got, _ := h.stored("market"); !sameJSON([]byte(got), []byte(cfg)) {
		t.Fatalf("stored %s; want %s", got, cfg)
	}

	r = h.want(exitOK, "config", "get", "market")
	var shown map[string]any
	decode(t, r.stdout, &shown)
	if shown["addr"] != shared.data.Addr() {
		t.Fatalf("config get: %v", shown)
	}
	r = h.want(exitOK, "config", "list", "--json")
	var list struct {
		Configs []configRow `json:"configs"`
	}
	decode(t, r.stdout, &list)
	if len(list.Configs) != 1 || list.Configs[0].Component != "market" || list.Configs[0].Kind != "single" {
		t.Fatalf("config list --json: %+v", list)
	}
	h.want(exitOK, "config", "list")

	r = h.want(exitOK, "config", "set", "market", cfg)
	contains(t, r, "no change", "unchanged: nothing written")

	// A change, shown field by field, then a dry run of another that writes nothing.
	var m map[string]any
	json.Unmarshal([]byte(cfg), &m)
	m["client_name"] = "ops"
	changed, _ := json.Marshal(m)
	r = h.want(exitOK, "config", "set", "market", string(changed), "--json")
	var res setResult
	decode(t, r.stdout, &res)
	if !res.Written || len(res.Changes) != 1 || res.Changes[0].Field != "client_name" || string(res.Changes[0].New) != `"ops"` || res.Ping == nil || !res.Ping.OK {
		t.Fatalf("set --json: %+v", res)
	}
	before, _ := h.stored("market")
	m["client_name"] = "dry"
	dry, _ := json.Marshal(m)
	r = h.want(exitOK, "config", "set", "market", string(dry), "--dry-run")
	contains(t, r, `- client_name: "ops"`, `+ client_name: "dry"`, "dry run: nothing written")
	if after, _ := h.stored("market"); after != before {
		t.Fatalf("dry run wrote %s", after)
	}

	// rm: refused on "n" and on no input, nothing removed; done on "y"; --yes asks nothing.
	for _, answer := range []string{"n\n", "", "yess\n"} {
		r := h.run(answer, "config", "rm", "market")
		if r.code != exitFail || !strings.Contains(r.stderr, "not confirmed: nothing removed") {
			t.Fatalf("rm answered %q: %s", answer, r)
		}
		if _, ok := h.stored("market"); !ok {
			t.Fatalf("rm answered %q removed the config", answer)
		}
	}
	r = h.run("y\n", "config", "rm", "market")
	if r.code != exitOK || !strings.Contains(r.stderr, "Remove "+h.prefix+"market") {
		t.Fatalf("rm answered y: %s", r)
	}
	if _, ok := h.stored("market"); ok {
		t.Fatal("rm answered y left the config")
	}
	h.want(exitFail, "config", "rm", "market", "--yes")
	h.store("x", cfg)
	r = h.want(exitOK, "config", "rm", "x", "--yes", "--json")
	var rm map[string]any
	decode(t, r.stdout, &rm)
	if rm["removed"] != true {
		t.Fatalf("rm --json: %v", rm)
	}
	h.want(exitFail, "config", "get", "x")
	r = h.want(exitOK, "config", "list")
	contains(t, r, "no configs stored under "+h.prefix)
}

// config set reads @FILE (a regular file only) and @- (standard input).
func TestConfigSetInputs(t *testing.T) {
	h := newHarness(t)
	cfg, _ := dataDB(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "c.json")
	os.WriteFile(file, []byte(cfg), 0o600)
	h.want(exitOK, "config", "set", "a", "@"+file)
	if r := h.run(cfg, "config", "set", "b", "@-"); r.code != exitOK {
		t.Fatalf("@-: %s", r)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"@" + fifo, "@" + dir, "@" + filepath.Join(dir, "missing")} {
		r := h.want(exitFail, "config", "set", "c", arg)
		contains(t, r, "reading the config file")
	}
	if _, ok := h.stored("c"); ok {
		t.Fatal("a refused input was written")
	}
}

// A bad config, or a target that cannot be reached or refuses the config's credentials, is refused
// and the stored key is left byte for byte as it was.
func TestConfigSetRefusedWritesNothing(t *testing.T) {
	h := newHarness(t)
	const original = `{ "addr" :  "127.0.0.1:1",   "db": 3 }` // spacing SetConfig would not write
	h.store("svc", original)
	dead := deadAddr(t)
	locked := redistest.RunT(t, &redistest.Options{Password: "right-password"})
	tlsSrv := redistest.RunT(t, &redistest.Options{TLS: true})
	for _, tc := range []struct {
		name, doc, says string
	}{
		{"not JSON", `{"addr": `, "not valid JSON"},
		{"not an object", `["a"]`, "not a JSON object"},
		{"unknown field", `{"hots": "h"}`, `field "hots"`},
		{"bad port", `{"host": "127.0.0.1", "port": 70000}`, `field "port"`},
		{"credentials in addr", `{"addr": "u:pw@h:1"}`, `field "addr"`},
		{"insecure TLS", fmt.Sprintf(`{"addr": %q, "ssl": true, "ssl_cert_reqs": "none"}`, tlsSrv.Addr()), "insecure TLS"},
		{"unreachable", fmt.Sprintf(`{"addr": %q}`, dead), "connection refused"},
		{"wrong password", fmt.Sprintf(`{"addr": %q, "password": "wrong"}`, locked.Addr()), "WRONGPASS"},
		{"no password", fmt.Sprintf(`{"addr": %q}`, locked.Addr()), "NOAUTH"},
		{"plain to a TLS server", fmt.Sprintf(`{"addr": %q}`, tlsSrv.Addr()), "PING"},
		{"TLS without the CA", fmt.Sprintf(`{"addr": %q, "ssl": true}`, tlsSrv.Addr()), "certificate"},
		{"missing CA file", fmt.Sprintf(`{"addr": %q, "ssl": true, "ssl_ca_certs": "/nonexistent/ca.pem"}`, tlsSrv.Addr()), "ssl_ca_certs"},
	} {
		for _, extra := range [][]string{nil, {"--json"}} {
			r := h.run("", append([]string{"config", "set", "svc", tc.doc}, extra...)...)
			if r.code != exitFail || !strings.Contains(r.stdout+r.stderr, tc.says) || !strings.Contains(r.stdout+r.stderr, "nothing written") {
				t.Errorf("%s %v: want exit 1, %q and nothing written; got %s", tc.name, extra, tc.says, r)
			}
			if extra != nil {
				var res setResult
				decode(t, r.stdout, &res)
				if res.Written || res.Error == "" {
					t.Errorf("%s --json: %+v", tc.name, res)
				}
			}
			if got, _ := h.stored("svc"); got != original {
				t.Fatalf("%s: stored config changed to %s", tc.name, got)
			}
		}
	}
	// The same configs, right: the TLS one with the CA and an ACL user, the locked one with its password.
	ctx := context.Background()
	if err := tlsSrv.Client(t).Do(ctx, "ACL", "SETUSER", "app", "on", ">app-pw", "~*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	files := tlsSrv.TLSFiles()
	good := fmt.Sprintf(`{"addr": %q, "ssl": true, "ssl_ca_certs": %q, "username": "app", "password": "app-pw"}`, tlsSrv.Addr(), files.CA)
	r := h.want(exitOK, "config", "set", "svc", good)
	contains(t, r, "with user=***** password=*****: ok", "written")
	bad := strings.Replace(good, "app-pw", "not-it", 1)
	r = h.want(exitFail, "config", "set", "svc", bad)
	contains(t, r, "WRONGPASS", "~ password: \"*****\" (changed)")
	h.want(exitOK, "config", "set", "svc", fmt.Sprintf(`{"addr": %q, "password": "right-password"}`, locked.Addr()))
	// --no-connect stores what cannot be reached.
	h.want(exitOK, "config", "set", "svc", fmt.Sprintf(`{"addr": %q}`, dead), "--no-connect")
}

// Property: whatever config text is given, config set either writes exactly that config (it parses
// and its server answers) or leaves the stored bytes as they were.
func TestConfigSetAllOrNothingProperty(t *testing.T) {
	h := newHarness(t)
	live, _ := dataDB(t)
	var liveCfg map[string]any
	json.Unmarshal([]byte(live), &liveCfg)
	dead := deadAddr(t)
	fields := []struct {
		name   string
		values []any
	}{
		{"addr", []any{liveCfg["addr"], dead, "", 7, "u:p@h:1", "127.0.0.1"}},
		{"db", []any{liveCfg["db"], -1, "2", 1 << 40, nil}},
		{"password", []any{"", "x", nil, 5}},
		{"client_name", []any{"ok-name", "has space", ""}},
		{"read_timeout", []any{1, "500ms", 0, -1, "soon"}},
		{"hots", []any{nil, 1}},
		{"ssl", []any{false, true, "yes"}},
		{"pool_size", []any{5, 0, -3}},
	}
	rng := rand.New(rand.NewPCG(21, 22))
	const original = `{"addr":"127.0.0.1:1"}`
	h.store("p", original)
	want := original
	writes := 0
	for i := 0; i < 40; i++ {
		doc := map[string]any{}
		for _, f := range fields {
			if rng.IntN(3) != 0 && f.name != "addr" {
				continue
			}
			v := f.values[0] // the first value is a good one: most docs are near-valid
			if rng.IntN(4) == 0 {
				v = f.values[rng.IntN(len(f.values))]
			}
			doc[f.name] = v
		}
		text, _ := json.Marshal(doc)
		if rng.IntN(6) == 0 {
			text = text[:rng.IntN(len(text))] // truncated
		}
		r := h.run("", "config", "set", "p", string(text), "--ping-timeout", "500ms")
		got, _ := h.stored("p")
		switch r.code {
		case exitOK:
			if _, err := conn.ParseConfig(text); err != nil {
				t.Fatalf("%s: exit 0 for a config the parser refuses: %v", text, err)
			}
			if !sameJSON([]byte(got), text) && !sameJSON([]byte(got), []byte(want)) {
				t.Fatalf("%s: exit 0 but stored %s", text, got)
			}
			if !strings.Contains(r.stdout, "unchanged") {
				writes++
			}
			want = got
		case exitFail:
			if got != want {
				t.Fatalf("%s: refused (%s) but stored %s; was %s", text, r.stderr, got, want)
			}
		default:
			t.Fatalf("%s: %s", text, r)
		}
	}
	if writes == 0 {
		t.Fatal("no generated config was written: the property was not exercised")
	}
}

// config check: one row per config, exit 1 when any fails; named ones only when named.
func TestConfigCheck(t *testing.T) {
	h := newHarness(t)
	good, _ := dataDB(t)
	h.store("good", good)
	h.store("dead", fmt.Sprintf(`{"addr": %q}`, deadAddr(t)))
	h.store("bad", `{"hots": 1}`)
	h.store("garbage", `not json`)
	r := h.want(exitFail, "config", "check", "--json")
	var doc struct {
		Configs []checkRow `json:"configs"`
		Failed  int        `json:"failed"`
	}
	decode(t, r.stdout, &doc)
	byName := map[string]checkRow{}
	for _, c := range doc.Configs {
		byName[c.Component] = c
	}
	if doc.Failed != 3 || !byName["good"].OK || byName["good"].RTTms <= 0 || byName["dead"].OK ||
		!strings.Contains(byName["dead"].Error, "refused") || !strings.Contains(byName["bad"].Error, "hots") ||
		!strings.Contains(byName["garbage"].Error, "not") {
		t.Fatalf("check --json: %+v", doc)
	}
	r = h.want(exitFail, "config", "check")
	contains(t, r, "3 of 4 configs failed", stFail)
	h.want(exitOK, "config", "check", "good")
	r = h.want(exitFail, "config", "check", "good", "missing")
	contains(t, r, "no config stored at "+h.prefix+"missing")
	// list shows the broken ones with the reason, and exits 0: it only lists.
	r = h.want(exitOK, "config", "list")
	contains(t, r, "garbage", "bad", "hots")
	// get of a broken config: every string masked, the reason, exit 1.
	r = h.want(exitFail, "config", "get", "bad")
	contains(t, r, `"hots": 1`, "unknown field")
	h.want(exitFail, "config", "get", "garbage")
}
