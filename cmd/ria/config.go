package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
)

const maxConfigBytes = 1 << 20

// configRow is one stored config, as list shows it.
type configRow struct {
	Component string `json:"component"`
	Key       string `json:"key"`
	Kind      string `json:"kind,omitempty"`
	Addr      string `json:"addr,omitempty"`
	TLS       bool   `json:"tls"`
	Username  string `json:"username,omitempty"` // masked unless --show-secrets
	Password  string `json:"password,omitempty"` // masked unless --show-secrets
	Error     string `json:"error,omitempty"`
}

func rowOf(st stored, show bool) configRow {
	r := configRow{Component: st.component, Key: st.key}
	if st.cfg == nil {
		r.Error = errText(st.err)
		return r
	}
	c := st.cfg
	r.Kind, r.Addr, r.TLS = c.Kind.String(), addrOf(c), c.TLS != nil
	r.Username, r.Password = secret(c.Username, show), secret(c.Password, show)
	if c.Kind == conn.KindSentinel && r.Password == "" {
		r.Password = secret(c.SentinelPassword, show)
	}
	return r
}

func secret(s string, show bool) string {
	if s == "" || show {
		return s
	}
	return conn.Masked
}

func configListCmd() *command {
	return &command{
		path: "config list", summary: "the stored configs: components, kinds, addresses (secrets masked)",
		detail: `Lists every config stored under the prefix (SCAN, then GET of each), parsed with ria's parser:
a config that does not parse, or a key that cannot be read as one (not a string, or one the config
Redis's user may not read), is a FAIL row with the reason, and the others are listed as usual.
Nothing is dialed.`,
		setup: func(fs *flag.FlagSet) action { return configList },
	}
}

func configList(ctx context.Context, e *env, _ []string) error {
	s, err := e.store()
	if err != nil {
		return err
	}
	names, err := s.reg.StoredComponents(ctx)
	if err != nil {
		return s.serverErr(err)
	}
	rows := make([]configRow, 0, len(names))
	for _, name := range names {
		st, err := s.load(ctx, name)
		if err != nil {
			return err
		}
		rows = append(rows, rowOf(st, e.g.showSecrets))
	}
	if e.g.json {
		return e.emit(map[string]any{"prefix": e.g.prefix, "configs": rows})
	}
	if len(rows) == 0 {
		fmt.Fprintf(e.stdout, "no configs stored under %s* on %s\n", e.g.prefix, s.addr)
		return nil
	}
	table := [][]string{}
	for _, r := range rows {
		auth := []string{}
		if r.Username != "" {
			auth = append(auth, "user="+r.Username)
		}
		if r.Password != "" {
			auth = append(auth, "password="+r.Password)
		}
		tls := "-"
		if r.TLS {
			tls = "tls"
		}
		if r.Error != "" {
			table = append(table, []string{r.Component, "?", "-", "-", "-", stFail + ": " + r.Error})
			continue
		}
		table = append(table, []string{r.Component, r.Kind, r.Addr, tls, orDash(strings.Join(auth, " ")), ""})
	}
	e.table([]string{"COMPONENT", "KIND", "ADDRESS", "TLS", "AUTH", "NOTE"}, table)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func configGetCmd() *command {
	return &command{
		path: "config get", args: "COMPONENT", min: 1, max: 1,
		summary: "the stored JSON of one config (secrets masked)",
		detail: `Prints the JSON stored at <prefix>COMPONENT. Passwords, user names and a URL's user part are
masked unless --show-secrets is given; a config that does not parse has every string masked
(a server field may hold pasted credentials) and exits 1 with the parser's reason.`,
		setup: func(fs *flag.FlagSet) action { return configGet },
	}
}

func configGet(ctx context.Context, e *env, args []string) error {
	s, err := e.store()
	if err != nil {
		return err
	}
	st, err := s.load(ctx, args[0])
	if err != nil {
		return err
	}
	if st.refused {
		return hint(st.err, "%s", refusedHint(st.key, st.err))
	}
	if st.raw == nil {
		return hint(st.err, "list the stored configs with 'ria config list'")
	}
	shown, perr := showJSON(st.raw, e.g.showSecrets)
	if shown == nil {
		return hint(fmt.Errorf("%s: %w", st.key, perr), "replace it with 'ria config set %s JSON'", args[0])
	}
	if e.g.json {
		doc := map[string]any{"component": st.component, "key": st.key, "config": json.RawMessage(shown), "valid": st.cfg != nil}
		if st.err != nil {
			doc["error"] = errText(st.err)
		}
		if err := e.emit(doc); err != nil {
			return err
		}
	} else {
		var b bytes.Buffer
		json.Indent(&b, shown, "", "  ")
		fmt.Fprintln(e.stdout, b.String())
	}
	if st.err != nil {
		return hint(st.err, "fix it with 'ria config set %s JSON'", args[0])
	}
	return nil
}

// showJSON is a stored config as shown: masked (conn.MaskJSON) or, with show, as stored but
// compacted. nil when it cannot be shown.
func showJSON(raw []byte, show bool) ([]byte, error) {
	if show {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, errors.New("the stored value is not JSON")
		}
		return b.Bytes(), nil
	}
	return conn.MaskJSON(raw)
}

func configCheckCmd() *command {
	var pingTimeout time.Duration
	return &command{
		path: "config check", args: "[COMPONENT...]", min: 0, max: -1,
		summary: "parse and PING every stored config (or the ones named); exit 1 if any fails",
		detail: `Each config is parsed with ria's parser and its server PINGed (every master of a cluster)
with the config's own TLS and ACL user, 8 at a time, each within --ping-timeout. One row per
config, with the round trip and the error; a key that cannot be read as a config is a FAIL row.`,
		setup: func(fs *flag.FlagSet) action {
			fs.DurationVar(&pingTimeout, "ping-timeout", 2*time.Second, "how long each server has to answer PING")
			return func(ctx context.Context, e *env, args []string) error {
				if pingTimeout <= 0 {
					return usagef(nil, "--ping-timeout %v: must be more than 0", pingTimeout)
				}
				return configCheck(ctx, e, args, pingTimeout)
			}
		},
	}
}

type checkRow struct {
	Component string  `json:"component"`
	Kind      string  `json:"kind,omitempty"`
	Addr      string  `json:"addr,omitempty"`
	OK        bool    `json:"ok"`
	RTTms     float64 `json:"rtt_ms"`
	Error     string  `json:"error,omitempty"`
}

func configCheck(ctx context.Context, e *env, names []string, pingTimeout time.Duration) error {
	s, err := e.store()
	if err != nil {
		return err
	}
	if len(names) == 0 {
		if names, err = s.reg.StoredComponents(ctx); err != nil {
			return s.serverErr(err)
		}
	}
	rows := make([]checkRow, len(names))
	errs := make([]error, len(names))
	parallel(len(names), 8, func(i int) {
		name := names[i]
		row := checkRow{Component: name}
		st, err := s.load(ctx, name)
		if err != nil {
			errs[i] = err
			return
		}
		if st.cfg == nil {
			row.Error = errText(st.err)
			rows[i] = row
			return
		}
		row.Kind, row.Addr = st.cfg.Kind.String(), addrOf(st.cfg)
		rtt, err := ping(ctx, st.cfg, pingTimeout)
		row.OK, row.RTTms = err == nil, float64(rtt.Microseconds())/1000
		if err != nil {
			row.Error = errText(err)
		}
		rows[i] = row
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	failed := 0
	for _, r := range rows {
		if !r.OK {
			failed++
		}
	}
	if e.g.json {
		e.emit(map[string]any{"configs": rows, "failed": failed})
	} else if len(rows) == 0 {
		fmt.Fprintf(e.stdout, "no configs stored under %s*\n", e.g.prefix)
	} else {
		table := [][]string{}
		for _, r := range rows {
			st, rtt := stOK, fmt.Sprintf("%.2fms", r.RTTms)
			if !r.OK {
				st, rtt = stFail, "-"
			}
			table = append(table, []string{r.Component, orDash(r.Kind), orDash(r.Addr), st, rtt, r.Error})
		}
		e.table([]string{"COMPONENT", "KIND", "ADDRESS", "STATUS", "RTT", "ERROR"}, table)
	}
	if failed > 0 {
		return &reported{msg: fmt.Sprintf("%d of %d configs failed", failed, len(rows))}
	}
	return nil
}

// defaultAnswerTimeout is how long config rm waits for its answer: a person's time, not --timeout.
const defaultAnswerTimeout = time.Minute

func configRmCmd() *command {
	var yes bool
	var answerTimeout time.Duration
	return &command{
		path: "config rm", args: "COMPONENT", min: 1, max: 1,
		summary: "remove a stored config, after asking (or with --yes)",
		detail: `Without --yes it asks on standard error and reads the answer from standard input, for up to its
own --answer-timeout (a minute; --timeout bounds the reads and the removal, not this wait): y or
yes, in any case, removes it; anything else, or no input in that time, refuses with exit status 1.
The config is removed only if it is still what was read (WATCH/MULTI).`,
		setup: func(fs *flag.FlagSet) action {
			fs.BoolVar(&yes, "yes", false, "remove without asking")
			fs.DurationVar(&answerTimeout, "answer-timeout", defaultAnswerTimeout, "how long to wait for the answer on standard input")
			return func(ctx context.Context, e *env, args []string) error {
				if answerTimeout <= 0 {
					return usagef(nil, "--answer-timeout %v: must be more than 0", answerTimeout)
				}
				return configRm(ctx, e, args[0], yes, answerTimeout)
			}
		},
	}
}

func configRm(ctx context.Context, e *env, component string, yes bool, answerTimeout time.Duration) error {
	s, err := e.store()
	if err != nil {
		return err
	}
	st, err := s.load(ctx, component)
	if err != nil {
		return err
	}
	if st.refused {
		return hint(st.err, "nothing removed: %s", refusedHint(st.key, st.err))
	}
	if st.raw == nil {
		return hint(st.err, "nothing to remove; list the stored configs with 'ria config list'")
	}
	what := st.key
	if st.cfg != nil {
		what += " (" + st.cfg.Kind.String() + " " + addrOf(st.cfg) + ")"
	}
	if !yes {
		fmt.Fprintf(e.stderr, "Remove %s? [y/N] ", what)
		pctx, cancel := context.WithTimeout(e.base, answerTimeout)
		answer, err := readLine(pctx, e.stdin)
		cancel()
		fmt.Fprintln(e.stderr)
		if errors.Is(err, context.DeadlineExceeded) {
			return hint(fmt.Errorf("not confirmed (no answer within --answer-timeout %v): nothing removed", answerTimeout),
				"answer y, pass a longer --answer-timeout, or pass --yes")
		}
		if err != nil && err != io.EOF {
			return hint(fmt.Errorf("not confirmed (%v): nothing removed", err), "answer y, or pass --yes")
		}
		if a := strings.ToLower(answer); a != "y" && a != "yes" {
			return hint(errors.New("not confirmed: nothing removed"), "answer y, or pass --yes to remove without asking")
		}
		var cancel2 context.CancelFunc
		ctx, cancel2 = context.WithTimeout(e.base, e.g.timeout)
		defer cancel2()
	}
	err = s.client.Watch(ctx, func(tx *redis.Tx) error {
		cur, err := tx.Get(ctx, st.key).Bytes()
		if errors.Is(err, redis.Nil) || (err == nil && !bytes.Equal(cur, st.raw)) {
			return errChanged
		}
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error { return p.Del(ctx, st.key).Err() })
		return err
	}, st.key)
	if errors.Is(err, errChanged) || errors.Is(err, redis.TxFailedErr) {
		return hint(fmt.Errorf("%s changed after it was read: nothing removed", st.key), "look again with 'ria config get %s'", component)
	}
	if err != nil {
		return s.serverErr(fmt.Errorf("removing %s: %w", st.key, err))
	}
	if e.g.json {
		return e.emit(map[string]any{"component": component, "key": st.key, "removed": true})
	}
	fmt.Fprintf(e.stdout, "removed: %s\n", st.key)
	return nil
}

var errChanged = errors.New("changed")

// asUser says which credentials a PING used.
func asUser(cfg *conn.Config, show bool) string {
	if a := authOf(cfg, show); a != "-" {
		return " with " + a
	}
	return ""
}
