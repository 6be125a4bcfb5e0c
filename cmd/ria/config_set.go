package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/safefile"
)

func configSetCmd() *command {
	var noConnect, dryRun bool
	var pingTimeout time.Duration
	return &command{
		path: "config set", args: "COMPONENT JSON|@FILE|@-", min: 2, max: 2,
		summary: "validate a config, PING its server, show the change, and store it",
		detail: `The config (JSON text, @FILE for a file, @- for standard input) is parsed with ria's parser;
then, unless --no-connect, a client is made from it, with its own TLS settings and ACL user, and
its server must answer PING within --ping-timeout; the change against the stored config is
printed (secrets masked: a changed secret shows as "changed"); then it is stored as given,
compacted (conn.Registry.SetConfig). On any failure nothing is written. --dry-run stops before
writing.`,
		setup: func(fs *flag.FlagSet) action {
			fs.BoolVar(&noConnect, "no-connect", false, "store without connecting to the config's server first")
			fs.BoolVar(&dryRun, "dry-run", false, "check and show the change, write nothing")
			fs.DurationVar(&pingTimeout, "ping-timeout", 2*time.Second, "how long the config's server has to answer PING")
			return func(ctx context.Context, e *env, args []string) error {
				if pingTimeout <= 0 {
					return usagef(nil, "--ping-timeout %v: must be more than 0", pingTimeout)
				}
				return configSet(ctx, e, args[0], args[1], !noConnect, dryRun, pingTimeout)
			}
		},
	}
}

// setResult is what config set did, for --json.
type setResult struct {
	Component string          `json:"component"`
	Key       string          `json:"key"`
	Stored    json.RawMessage `json:"stored"` // masked unless --show-secrets; null when none
	New       json.RawMessage `json:"new"`
	Changes   []change        `json:"changes"`
	Ping      *pingResult     `json:"ping,omitempty"`
	Written   bool            `json:"written"`
	DryRun    bool            `json:"dry_run"`
	Error     string          `json:"error,omitempty"`
}

type pingResult struct {
	Addr  string  `json:"addr"`
	OK    bool    `json:"ok"`
	RTTms float64 `json:"rtt_ms"`
	Error string  `json:"error,omitempty"`
}

func configSet(ctx context.Context, e *env, component, arg string, connect, dryRun bool, pingTimeout time.Duration) (err error) {
	res := setResult{Component: component, DryRun: dryRun, Changes: []change{}}
	defer func() {
		if e.g.json {
			if err != nil {
				res.Error = errText(err)
			}
			e.emit(res)
		}
	}()
	raw, err := readConfigArg(ctx, e, arg)
	if err != nil {
		return err
	}
	cfg, err := conn.ParseConfig(raw)
	if err != nil {
		var ce *conn.ConfigError
		if errors.As(err, &ce) && ce.Field != "" {
			return hint(fmt.Errorf("refused, nothing written: %w", err), "fix the field named and run again")
		}
		return hint(fmt.Errorf("refused, nothing written: %w", err), "fix the config as a whole (one JSON object of ria's fields) and run again")
	}
	if cfg.Insecure() {
		return hint(fmt.Errorf("refused, nothing written: %w", conn.ErrInsecureTLS),
			"the config turns TLS verification off, which ria's registries refuse")
	}
	s, err := e.store()
	if err != nil {
		return err
	}
	res.Key = s.reg.Key(component)
	old, err := s.load(ctx, component)
	if err != nil {
		return err
	}
	if old.refused {
		return hint(fmt.Errorf("refused, nothing written: %w", old.err), "%s", refusedHint(old.key, old.err))
	}
	if old.raw == nil && !old.missing {
		return hint(old.err, "a component name is non-empty, without spaces or control characters")
	}
	newShown, _ := showJSON(raw, e.g.showSecrets)
	res.New = newShown
	res.Stored = json.RawMessage("null")
	if old.raw != nil {
		if shown, _ := showJSON(old.raw, e.g.showSecrets); shown != nil {
			res.Stored = shown
		}
	}
	res.Changes = diffConfigs(old.raw, raw, e.g.showSecrets)
	if !e.g.json {
		printChanges(e, res.Key, old.raw, res.Changes)
	}
	if connect {
		res.Ping = &pingResult{Addr: addrOf(cfg)}
		rtt, err := ping(ctx, cfg, pingTimeout)
		res.Ping.OK, res.Ping.RTTms = err == nil, float64(rtt.Microseconds())/1000
		if err != nil {
			res.Ping.Error = errText(err)
			if !e.g.json {
				fmt.Fprintf(e.stdout, "PING %s%s: %s %s\n", addrOf(cfg), asUser(cfg, e.g.showSecrets), stFail, errText(err))
			}
			return hint(fmt.Errorf("refused, nothing written: PING %s: %w", addrOf(cfg), err),
				"check the address, the credentials and TLS settings, that the server is up, or pass --no-connect to store it anyway")
		}
		if !e.g.json {
			fmt.Fprintf(e.stdout, "PING %s%s: %s %s\n", addrOf(cfg), asUser(cfg, e.g.showSecrets), stOK, ms(rtt))
		}
	}
	switch {
	case dryRun:
		if !e.g.json {
			fmt.Fprintln(e.stdout, "dry run: nothing written")
		}
		return nil
	case old.raw != nil && sameJSON(old.raw, raw):
		if !e.g.json {
			fmt.Fprintf(e.stdout, "unchanged: nothing written\n")
		}
		return nil
	}
	if err := s.reg.SetConfig(ctx, component, raw); err != nil {
		if errors.Is(err, conn.ErrBadConfig) || errors.Is(err, conn.ErrInsecureTLS) {
			return fmt.Errorf("refused, nothing written: %w", err)
		}
		return s.serverErr(fmt.Errorf("writing %s: %w", res.Key, err))
	}
	res.Written = true
	if !e.g.json {
		fmt.Fprintf(e.stdout, "written: %s\n", res.Key)
	}
	return nil
}

// readConfigArg reads the config text: the argument itself, @FILE (a regular file of at most
// 1 MiB, read within ctx) or @- (standard input).
func readConfigArg(ctx context.Context, e *env, arg string) ([]byte, error) {
	switch {
	case arg == "@-":
		b, err := readInput(ctx, e.stdin, maxConfigBytes)
		if err != nil {
			return nil, hint(err, "give the config on standard input, or as the argument")
		}
		return b, nil
	case strings.HasPrefix(arg, "@"):
		b, err := safefile.ReadFile(ctx, arg[1:], maxConfigBytes)
		if err != nil {
			return nil, hint(fmt.Errorf("reading the config file: %w", err), "give a regular file of at most 1 MiB after @")
		}
		return b, nil
	}
	return []byte(arg), nil
}

func sameJSON(a, b []byte) bool {
	var x, y bytes.Buffer
	return json.Compact(&x, a) == nil && json.Compact(&y, b) == nil && bytes.Equal(x.Bytes(), y.Bytes())
}

// change is one field that differs between the stored config and the new one.
type change struct {
	Field         string          `json:"field"`
	Old           json.RawMessage `json:"old,omitempty"` // as shown: masked unless --show-secrets
	New           json.RawMessage `json:"new,omitempty"`
	SecretChanged bool            `json:"secret_changed,omitempty"` // the masked forms are equal but the values differ
}

// diffConfigs compares the members of two configs: values compared as stored, shown masked.
func diffConfigs(oldRaw, newRaw []byte, show bool) []change {
	members := func(raw []byte) (cmp, shown map[string]json.RawMessage) {
		cmp, shown = map[string]json.RawMessage{}, map[string]json.RawMessage{}
		if raw == nil {
			return
		}
		json.Unmarshal(raw, &cmp)
		if s, _ := showJSON(raw, show); s != nil {
			json.Unmarshal(s, &shown)
		}
		for k, v := range cmp {
			var b bytes.Buffer
			if json.Compact(&b, v) == nil {
				cmp[k] = b.Bytes()
			}
		}
		return
	}
	oc, os := members(oldRaw)
	nc, ns := members(newRaw)
	var names []string
	for k := range oc {
		names = append(names, k)
	}
	for k := range nc {
		if _, ok := oc[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	out := []change{}
	for _, k := range names {
		o, inOld := oc[k]
		n, inNew := nc[k]
		if inOld && inNew && bytes.Equal(o, n) {
			continue
		}
		c := change{Field: k}
		if inOld {
			c.Old = maskedOr(os[k])
		}
		if inNew {
			c.New = maskedOr(ns[k])
		}
		c.SecretChanged = inOld && inNew && bytes.Equal(c.Old, c.New)
		out = append(out, c)
	}
	return out
}

// maskedOr is a shown value, or Masked when there is none to show (the text could not be masked).
func maskedOr(v json.RawMessage) json.RawMessage {
	if v == nil {
		return json.RawMessage(`"` + conn.Masked + `"`)
	}
	return v
}

func printChanges(e *env, key string, oldRaw []byte, changes []change) {
	switch {
	case oldRaw == nil:
		fmt.Fprintf(e.stdout, "%s: none stored; new config:\n", key)
	case len(changes) == 0:
		fmt.Fprintf(e.stdout, "%s: no change\n", key)
		return
	default:
		fmt.Fprintf(e.stdout, "%s: changes against the stored config:\n", key)
	}
	for _, c := range changes {
		field, o, n := shown(c.Field), shownJSON(c.Old), shownJSON(c.New)
		switch {
		case c.SecretChanged:
			fmt.Fprintf(e.stdout, "  ~ %s: %s (changed)\n", field, n)
		default:
			if c.Old != nil {
				fmt.Fprintf(e.stdout, "  - %s: %s\n", field, o)
			}
			if c.New != nil {
				fmt.Fprintf(e.stdout, "  + %s: %s\n", field, n)
			}
		}
	}
}

// ping makes a client from cfg (its TLS, its ACL user) and PINGs its server (every master of a
// cluster), within timeout.
func ping(ctx context.Context, cfg *conn.Config, timeout time.Duration) (time.Duration, error) {
	client, err := cfg.NewClient()
	if err != nil {
		return 0, err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	if cc, ok := client.(*redis.ClusterClient); ok {
		err = cc.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
			if err := c.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("%s: %w", c.Options().Addr, err)
			}
			return nil
		})
	} else {
		err = client.Ping(ctx).Err()
	}
	return time.Since(start), err
}
