package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// config rm's question has its own bound, --answer-timeout, which --timeout neither shortens nor
// replaces; the help, the global help and the README say so.
func TestConfigRmAnswerTimeout(t *testing.T) {
	h := newHarness(t)
	cfg, _ := dataDB(t)
	rm := func(stdin io.Reader, args ...string) result {
		var out, errb bytes.Buffer
		full := append([]string{"--prefix", h.prefix, "config", "rm", "c"}, args...)
		code := run(context.Background(), full, func(k string) string { return h.env[k] }, stdin, &out, &errb)
		return result{code, out.String(), errb.String()}
	}

	// No answer: refused when --answer-timeout ends, however long --timeout is.
	h.store("c", cfg)
	never, w := io.Pipe()
	defer w.Close()
	r := rm(never, "--answer-timeout", "200ms", "--timeout", "1m")
	if r.code != exitFail || !strings.Contains(r.stderr, "no answer within --answer-timeout 200ms") {
		t.Fatalf("no answer: %s", r)
	}
	if _, ok := h.stored("c"); !ok {
		t.Fatal("removed without an answer")
	}

	// An answer after --timeout has passed still counts: the wait is --answer-timeout's.
	late, lw := io.Pipe()
	go func() {
		time.Sleep(1500 * time.Millisecond) // past --timeout
		lw.Write([]byte("y\n"))
		lw.Close()
	}()
	r = rm(late, "--timeout", "1s", "--answer-timeout", "1m")
	if r.code != exitOK {
		t.Fatalf("late answer: %s", r)
	}
	if _, ok := h.stored("c"); ok {
		t.Fatal("not removed")
	}

	help := h.want(exitOK, "help", "config", "rm").stdout
	if !strings.Contains(flagLine(help, "answer-timeout"), "(default: 1m0s)") || !strings.Contains(flagLine(help, "timeout"), "--answer-timeout") {
		t.Errorf("help of config rm:\n%s", help)
	}
	top := h.want(exitOK, "--help").stdout
	if !strings.Contains(flagLine(top, "timeout"), "--answer-timeout") || !strings.Contains(top, "--answer-timeout (a\nminute)") {
		t.Errorf("global help does not give config rm's own bound:\n%s", top)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(readme)), " ")
	for _, want := range []string{"`--timeout` (5 s) bounds every command's I/O, except the wait for `config rm`'s answer, which has its own `--answer-timeout` (a minute)",
		"anything but `y` or `yes` (in any case), or no input, refuses with 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("README lacks %q", want)
		}
	}
}

// config rm removes on y or yes in any case, with spaces around, and on nothing else.
func TestConfigRmAnswers(t *testing.T) {
	h := newHarness(t)
	cfg, _ := dataDB(t)
	r := rand.New(rand.NewPCG(7, 8))
	yes := []string{"y", "yes"}
	no := []string{"", "n", "no", "yy", "yess", "ye", "y es", "1", "true", "oui"}
	for range 40 {
		var answer string
		want := r.IntN(2) == 0
		if want {
			answer = yes[r.IntN(len(yes))]
		} else {
			answer = no[r.IntN(len(no))]
		}
		b := []byte(answer)
		for i := range b {
			if r.IntN(2) == 0 {
				b[i] = byte(strings.ToUpper(string(b[i]))[0])
			}
		}
		answer = strings.Repeat(" ", r.IntN(2)) + string(b) + strings.Repeat(" ", r.IntN(2))
		h.store("c", cfg)
		res := h.run(answer+"\n", "config", "rm", "c")
		_, still := h.stored("c")
		if (res.code == exitOK) != want || still == want {
			t.Fatalf("answer %q: want removed %v, got %s", answer, want, res)
		}
	}
}

// config set's hint names a field only when the parser named one.
func TestConfigSetHintNamesFieldOnlyWhenThereIsOne(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		json  string
		field bool
	}{
		{`{"host":`, false},
		{`[1]`, false},
		{`not json`, false},
		{`{"hots": 1}`, true},
		{`{"port": "x"}`, true},
	} {
		r := h.want(exitFail, "config", "set", "c", tc.json, "--no-connect")
		if strings.Contains(r.stderr, "fix the field named") != tc.field {
			t.Errorf("config set %s: hint (field named: %v):\n%s", tc.json, tc.field, r.stderr)
		}
	}
}

// A stored count that is an integer is never called "not a valid integer": a negative count, or an
// expected size below 1, is said to be one; other text still is not an integer.
func TestVisitsBadCountSaysWhatIsWrong(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cfg, c := dataDB(t)
	h.store("v", cfg)
	h.store("v:0", cfg)
	r := rand.New(rand.NewPCG(9, 10))
	flags := []string{"--component", "v", "--shards", "1", "--day", "2024-03-01"}
	for range 20 {
		n := -1 - r.Int64N(1<<62)
		c.Set(ctx, "unique:2024-03-01", strconv.FormatInt(n, 10), 0)
		res := h.want(exitFail, append([]string{"visits", "count"}, flags...)...)
		contains(t, res, "unique:2024-03-01 holds "+strconv.FormatInt(n, 10), "negative", "visits recount")
		if strings.Contains(res.stderr, "not a valid integer") {
			t.Fatalf("%d called not an integer: %s", n, res)
		}
	}
	for _, s := range []string{"-0", "05", "+5", " 5", "x", "1.5", "99999999999999999999"} {
		c.Set(ctx, "unique:2024-03-01", s, 0)
		res := h.want(exitFail, append([]string{"visits", "count"}, flags...)...)
		contains(t, res, "not a valid integer", strconv.Quote(s))
	}
	c.Set(ctx, "unique:2024-03-01", "0", 0)
	c.Set(ctx, "unique:2024-03-01:expected", "0", 0)
	res := h.want(exitFail, append([]string{"visits", "recount"}, flags...)...)
	contains(t, res, "unique:2024-03-01:expected holds 0", "below 1")
}
