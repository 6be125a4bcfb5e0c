package redistest_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

// randomSecret draws a password from every byte class redis.conf's parser treats differently:
// plain ASCII, its quotes, escapes and separators, control bytes (NUL included), bytes above 0x7f,
// and UTF-8 runes that strconv.Quote writes as \u escapes. allowed filters the bytes.
func randomSecret(r *rand.Rand, allowed func(byte) bool) string {
	classes := []func() string{
		func() string { return string(rune('!' + r.IntN(94))) },
		func() string { return []string{`"`, `'`, `\`, " ", "\t", "#", `\x41`, `\n`, "$"}[r.IntN(9)] },
		func() string { return string([]byte{byte(r.IntN(0x20))}) },
		func() string { return "\x7f" },
		func() string { return string([]byte{byte(0x80 + r.IntN(0x80))}) },
		func() string { return []string{"\u00a0", "\u200b", "\u2028", "\ufeff", "é"}[r.IntN(5)] },
		func() string { return string(rune(0x80 + r.IntN(utf8.MaxRune-0x80))) },
	}
	var b strings.Builder
	for n := 1 + r.IntN(24); b.Len() < n; {
		piece := classes[r.IntN(len(classes))]()
		ok := true
		for i := 0; i < len(piece); i++ {
			ok = ok && (allowed == nil || allowed(piece[i]))
		}
		if ok {
			b.WriteString(piece)
		}
	}
	return b.String()
}

// TestPasswordBytes: a server starts with any password, AUTH with exactly that password works,
// and CONFIG GET requirepass gives it back byte for byte. The first two are the ones strconv.Quote
// spelled as \u escapes, which redis.conf read as the letter u: the server started with another
// password and the start failed only after StartTimeout.
func TestPasswordBytes(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 4))
	pws := []string{"a\u00a0b", "\u200b", "\x00"}
	for len(pws) < 20 {
		pws = append(pws, randomSecret(r, nil))
	}
	for i, pw := range pws {
		// A start that does not come up fails at once, not after StartTimeout: see TestWrongPasswordFailsFast.
		s, err := redistest.Run(context.Background(), &redistest.Options{Password: pw, StartTimeout: 10 * time.Minute})
		if err != nil {
			t.Fatalf("password %d (%q): %v", i, pw, err)
		}
		func() {
			defer s.Close()
			ctx := t.Context()
			c := s.Client(t)
			if got, err := c.ConfigGet(ctx, "requirepass").Result(); err != nil || got["requirepass"] != pw {
				t.Errorf("password %d: CONFIG GET requirepass = %q, %v; want %q", i, got["requirepass"], err, pw)
			}
			o := s.Options()
			o.Password = pw + "x"
			wrong := redis.NewClient(o)
			defer wrong.Close()
			if err := wrong.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
				t.Errorf("password %d: PING with another password: %v; want WRONGPASS", i, err)
			}
		}()
	}
}

// TestPasswordBytesReplicated: the replica's masterauth and a Sentinel's auth-pass carry the password
// as well, and a restarted Sentinel reads back the config file it rewrote.
func TestPasswordBytesReplicated(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 5))
	ctx := t.Context()

	rep := redistest.RunReplicatedT(t, &redistest.Options{Password: "\x00\u00a0" + randomSecret(r, nil)})
	if err := rep.Replica.Client(t).Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	// A Sentinel writes the password unquoted into its rewritten config: only bytes that survive that.
	pw := "\u200b\\#" + randomSecret(r, func(c byte) bool { return !strings.ContainsRune(" \t\n\r\v\f\x00\"'", rune(c)) })
	rep2 := redistest.RunReplicatedT(t, &redistest.Options{Password: pw})
	s := redistest.RunSentinelT(t, rep2.Master, &redistest.SentinelOptions{MasterName: "m\u00a0x"})
	if err := s.Restart(ctx); err != nil {
		t.Fatalf("restarting the Sentinel: %v", err)
	}
	if got, err := redistest.SentinelMaster(ctx, s, "m\u00a0x"); err != nil || got != rep2.Master.Addr() {
		t.Fatalf("sentinel master = %q, %v; want %s", got, err, rep2.Master.Addr())
	}
}

// TestSentinelRefusesWhatItCannotKeep: a master name or password that a Sentinel would write
// unreadably into its config is refused before anything starts, and the error does not show it.
func TestSentinelRefusesWhatItCannotKeep(t *testing.T) {
	ctx := t.Context()
	for _, pw := range []string{"two words", `quo"te`, "nul\x00byte", "tab\tbed"} {
		m := redistest.RunT(t, &redistest.Options{Password: pw})
		_, err := redistest.RunSentinel(ctx, m, nil)
		if !errors.Is(err, redistest.ErrInvalid) {
			t.Errorf("RunSentinel for a master with password %q: %v; want ErrInvalid", pw, err)
		} else if strings.Contains(err.Error(), pw) {
			t.Errorf("error %q shows the password", err)
		}
	}
	m := redistest.RunT(t, nil)
	if _, err := redistest.RunSentinel(ctx, m, &redistest.SentinelOptions{MasterName: "my master"}); !errors.Is(err, redistest.ErrInvalid) {
		t.Errorf("RunSentinel with a master name holding a space: %v; want ErrInvalid", err)
	}
}

// TestWrongPasswordFailsFast: a server whose config overrides the password never accepts the
// probe's AUTH; the start fails on the first refusal, not at StartTimeout, and shows no password.
func TestWrongPasswordFailsFast(t *testing.T) {
	const pw, other = "options-password-7f3", "config-password-1c9"
	_, err := redistest.Run(context.Background(), &redistest.Options{
		Password: pw, Config: []string{"requirepass " + other}, StartTimeout: 10 * time.Minute,
	})
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("start with a password the server does not have: %v; want the WRONGPASS refusal, not a deadline", err)
	}
	if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), other) {
		t.Fatalf("error shows a password: %v", err)
	}
}

// TestBadConfigFailsFast: a server that exits on its config fails the start at once with its
// complaint, not after StartTimeout, and a config line the server echoes has its password masked.
func TestBadConfigFailsFast(t *testing.T) {
	const pw = "echoed-password-4b2"
	for _, tc := range []struct {
		name, line, complaint string
	}{
		{"unknown directive", "no-such-directive yes", "no-such-directive"},
		{"password in the bad line", `masterauth "` + pw + `" extra`, "masterauth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redistest.Run(context.Background(), &redistest.Options{
				Password: pw, Config: []string{tc.line}, StartTimeout: 10 * time.Minute,
			})
			if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "process exited") {
				t.Fatalf("start with a bad config line: %v; want the process's exit, not a deadline", err)
			}
			if !strings.Contains(err.Error(), tc.complaint) {
				t.Errorf("error does not show the server's complaint about %s: %v", tc.complaint, err)
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// TestConfigLineRefused: a Config entry redis.conf would read as two lines, or cut at a NUL, is
// refused before a server starts.
func TestConfigLineRefused(t *testing.T) {
	for _, line := range []string{"maxmemory 1mb\nrequirepass x", "save \"\x00\""} {
		if _, err := redistest.Run(context.Background(), &redistest.Options{Config: []string{line}}); !errors.Is(err, redistest.ErrInvalid) {
			t.Errorf("Run with Config line %q: %v; want ErrInvalid", line, err)
		}
	}
}
