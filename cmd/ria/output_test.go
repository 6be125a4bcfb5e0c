package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// genText makes strings from pieces that are printable, control, non-printable, multi-byte and
// invalid UTF-8.
func genText(r *rand.Rand) string {
	pieces := []string{"a", "Z", "7", " ", ".", ":", `"`, `\`, "x", "\n", "\r", "\t", "\x1b[31m", "\x1b[2K",
		"\x00", "\x7f", "\u009b", "é", "日本", "\u202e", "\u200b", "\ufffd", "\xff", "\xc3", "\xe2\x82", "\x80", "%q"}
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// printable reports whether s draws nothing on a terminal: valid UTF-8, every rune printable.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) < 0
}

// shown keeps printable text as it is, and quotes the rest so that it is printable, one line, and
// reads back (as a Go literal, which is redis-cli's form for these escapes) to exactly the input.
func TestShownProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		s := genText(r)
		got := shown(s)
		if !printable(got) {
			t.Fatalf("shown(%q) = %q: not printable", s, got)
		}
		if printable(s) && !strings.HasPrefix(s, `"`) {
			if got != s {
				t.Fatalf("shown(%q) = %q; want it unchanged", s, got)
			}
			continue
		}
		back, err := strconv.Unquote(got)
		if err != nil || back != s {
			t.Fatalf("shown(%q) = %q, which reads back as %q (%v)", s, got, back, err)
		}
	}
}

// jsonSafe keeps every valid string that does not begin with a double quote, and writes the others
// quoted, so each comes back exactly (no U+FFFD in place of its bytes), in maps, slices and structs.
func TestJSONSafeProperty(t *testing.T) {
	type row struct {
		Name  string   `json:"name"`
		Items []string `json:"items"`
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		k, v, item := genText(r), genText(r), genText(r)
		doc := map[string]any{"m": map[string]string{k: v}, "row": row{Name: v, Items: []string{item}},
			"ptr": &row{Name: k}, "raw": json.RawMessage(`{"a":1}`)}
		var b bytes.Buffer
		if err := json.NewEncoder(&b).Encode(jsonSafe(doc)); err != nil {
			t.Fatal(err)
		}
		var back struct {
			M   map[string]string `json:"m"`
			Row row               `json:"row"`
			Ptr row               `json:"ptr"`
			Raw map[string]int    `json:"raw"`
		}
		if err := json.Unmarshal(b.Bytes(), &back); err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		read := func(got string) string {
			if !strings.HasPrefix(got, `"`) {
				return got
			}
			s, err := strconv.Unquote(got)
			if err != nil {
				t.Fatalf("%q: begins with a quote but is not the quoted form: %v", got, err)
			}
			return s
		}
		if len(back.M) != 1 {
			t.Fatalf("map %v", back.M)
		}
		for gk, gv := range back.M {
			if read(gk) != k || read(gv) != v {
				t.Fatalf("map {%q: %q} came back as {%q: %q}", k, v, gk, gv)
			}
		}
		if read(back.Row.Name) != v || read(back.Row.Items[0]) != item || read(back.Ptr.Name) != k || back.Raw["a"] != 1 {
			t.Fatalf("%+v from %q %q %q", back, k, v, item)
		}
		if utf8.ValidString(v) && !strings.HasPrefix(v, `"`) && back.Row.Name != v {
			t.Fatalf("a valid string changed: %q -> %q", v, back.Row.Name)
		}
	}
}

// Names, items, file names and component names from Redis cannot draw on the terminal or add
// rows: every line of a table or name-value list is one row, with no control byte.
func TestOutputFromRedisIsEscaped(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cfg, c := dataDB(t)
	h.store("shop", cfg)
	h.store("logs", cfg)
	evil := "ev\x1b[31mil\nFAKE     single  6.6.6.6:1"
	h.store(evil, cfg)
	c.HSet(ctx, "users:1", "name", "Bob\nfunds      99999", "funds", 10)
	c.SAdd(ctx, "inventory:1", "Item\x1b[2K\rX", "two words")
	c.ZAdd(ctx, "market:", redis.Z{Score: 5, Member: "Item\x1b[2K\rFAKE\xff.17"})
	c.MSet(ctx, "progress:file", "a.log\nposition  999", "progress:position", 5)

	for _, tc := range []struct {
		args  []string
		lines int
		says  string
	}{
		{[]string{"market", "user", "1", "--component", "shop"}, 4, `"Bob\nfunds      99999"`},
		{[]string{"market", "ls", "--component", "shop"}, 2, `"Item\x1b[2K\rFAKE\xff"`},
		{[]string{"logs", "progress"}, 2, `"a.log\nposition  999"`},
		{[]string{"config", "list"}, 4, `"ev\x1b[31mil\nFAKE     single  6.6.6.6:1"`},
	} {
		r := h.run("", tc.args...)
		if strings.ContainsAny(r.stdout, "\x1b\r\xff") || !utf8.ValidString(r.stdout) {
			t.Errorf("ria %s wrote control or invalid bytes:\n%q", strings.Join(tc.args, " "), r.stdout)
		}
		if n := strings.Count(r.stdout, "\n"); n != tc.lines || !strings.Contains(r.stdout, tc.says) {
			t.Errorf("ria %s: %d lines, want %d saying %s:\n%s", strings.Join(tc.args, " "), n, tc.lines, tc.says, r.stdout)
		}
	}
	r := h.want(exitOK, "market", "user", "1", "--component", "shop")
	contains(t, r, `"Item\x1b[2K\rX"`, `"two words"`)

	// --json: the item that is not valid UTF-8 comes back byte for byte from its quoted form.
	r = h.want(exitOK, "market", "ls", "--component", "shop", "--json")
	var ls struct{ Listings []struct{ Item string } }
	decode(t, r.stdout, &ls)
	if len(ls.Listings) != 1 {
		t.Fatalf("market ls --json: %s", r.stdout)
	}
	got, err := strconv.Unquote(ls.Listings[0].Item)
	if err != nil || got != "Item\x1b[2K\rFAKE\xff" || strings.Contains(r.stdout, "\ufffd") {
		t.Fatalf("item %q (%v) in:\n%s", ls.Listings[0].Item, err, r.stdout)
	}
}
