package main

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/ria-go/ria/redistest"
)

// Every flag of every command appears in 'ria --help' and 'ria help COMMAND' with its default.
func TestHelpListsEveryFlagWithDefault(t *testing.T) {
	h := newHarness(t)
	top := h.want(exitOK, "--help")
	for _, c := range commands() {
		fs := flag.NewFlagSet(c.path, flag.ContinueOnError)
		c.setup(fs)
		one := h.want(exitOK, append([]string{"help"}, strings.Fields(c.path)...)...)
		viaFlag := h.want(exitOK, append(strings.Fields(c.path), "--help")...)
		if one.stdout != viaFlag.stdout {
			t.Errorf("ria help %s and ria %s --help differ", c.path, c.path)
		}
		fs.VisitAll(func(f *flag.Flag) {
			def := f.DefValue
			if def == "" {
				def = `""`
			}
			want := "(default: " + def + ")"
			for name, out := range map[string]string{"ria --help": section(top.stdout, c.path), "ria help " + c.path: one.stdout} {
				line := flagLine(out, f.Name)
				if !strings.Contains(line, want) {
					t.Errorf("%s: flag --%s of %s: line %q lacks %q", name, f.Name, c.path, line, want)
				}
			}
		})
		if !strings.Contains(top.stdout, c.path) {
			t.Errorf("ria --help does not list %s", c.path)
		}
	}
	g := defaultGlobals()
	gs := flag.NewFlagSet("g", flag.ContinueOnError)
	g.register(gs)
	gs.VisitAll(func(f *flag.Flag) {
		if line := flagLine(top.stdout, f.Name); !strings.Contains(line, "(default: ") {
			t.Errorf("global flag --%s not listed with its default: %q", f.Name, line)
		}
	})
	contains(t, top, "Exit status", "NO_COLOR", "RIA_CONFIG_URL")
	// 'ria help GROUP' shows each of the group's commands.
	r := h.want(exitOK, "help", "config")
	contains(t, r, "ria config set", "ria config rm", "--no-connect")
}

// flagLine is the first line of out that lists --name.
func flagLine(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "--"+name {
			return l
		}
	}
	return ""
}

// section is the part of 'ria --help' about one command: its line and the flag lines under it.
func section(out, path string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  "+path+" ") || l == "  "+path {
			j := i + 1
			for j < len(lines) && strings.HasPrefix(lines[j], "      --") {
				j++
			}
			return strings.Join(lines[i+1:j], "\n")
		}
	}
	return ""
}

// Exit status 2 for every kind of bad command line, with a message naming the problem.
func TestUsageErrorsExit2(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		args []string
		says string
	}{
		{nil, "Usage: ria"}, // the usage, on standard error
		{[]string{"nosuch"}, "no such command"},
		{[]string{"config"}, "config needs a subcommand: list, get, set, check, rm"},
		{[]string{"config", "frob"}, "config has no such subcommand"},
		{[]string{"help", "nosuch"}, "no such command"},
		{[]string{"--nosuch", "config", "list"}, "flag provided but not defined: -nosuch"},
		{[]string{"config", "list", "--nosuch"}, "flag provided but not defined: -nosuch"},
		{[]string{"config", "get"}, "config get takes 1 argument(s) (COMPONENT), got 0"},
		{[]string{"config", "get", "a", "b"}, "got 2"},
		{[]string{"config", "set", "a"}, "got 1"},
		{[]string{"route"}, "route takes 1"},
		{[]string{"sync", "status", "m"}, "got 1"},
		{[]string{"--timeout", "0", "config", "list"}, "--timeout 0s: must be more than 0"},
		{[]string{"--timeout", "soon", "config", "list"}, `invalid value "soon" for flag -timeout`},
		{[]string{"config", "check", "--ping-timeout", "-1s"}, "--ping-timeout -1s"},
		{[]string{"route", "k", "--shards", "0"}, "--shards 0: must be at least 1"},
		{[]string{"shards", "status", "c", "--shards", "-1"}, "--shards -1"},
		{[]string{"visits", "count", "--day", "yesterday"}, "--day: want YYYY-MM-DD"},
		{[]string{"market", "ls", "--count", "0"}, "--count 0: want 1 to 10000"},
		{[]string{"market", "user", "a.b"}, "a user id is non-empty and has no"},
		{[]string{"--config", "redis://127.0.0.1:notaport", "config", "list"}, "--config: "},
		{[]string{"--config", "http://h", "config", "list"}, "give a redis:// or rediss:// URL"},
	} {
		r := h.run("", tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("ria %q: want exit 2 saying %q, got %s", tc.args, tc.says, r)
		}
	}
	// The bare 'ria' prints the usage on stdout; a help request exits 0.
	if r := h.run("", "-h"); r.code != exitOK || !strings.Contains(r.stdout, "Commands:") {
		t.Errorf("ria -h: %s", r)
	}
}

// A config server that does not answer: exit 1 within --timeout, saying what to check.
func TestConfigServerDownAndTimeout(t *testing.T) {
	h := newHarness(t)
	h.env["RIA_CONFIG_URL"] = "redis://" + deadAddr(t)
	r := h.want(exitFail, "config", "list")
	contains(t, r, "connection refused", "check it is up, or pass --config")
	r = h.want(exitFail, "config", "list", "--json")
	var doc map[string]string
	decode(t, r.stdout, &doc)
	if !strings.Contains(doc["error"], "connection refused") {
		t.Errorf("--json error document: %v", doc)
	}

	// A paused config server: the command ends at its --timeout, and says so.
	paused := redistest.RunT(t, nil)
	if err := paused.Pause(); err != nil {
		t.Fatal(err)
	}
	defer paused.Resume()
	h.env["RIA_CONFIG_URL"] = paused.Addr()
	for _, args := range [][]string{{"config", "list"}, {"config", "get", "x"}, {"route", "k"}, {"visits", "count"}} {
		r := h.want(exitFail, append([]string{"--timeout", "300ms"}, args...)...)
		contains(t, r, "--timeout 300ms")
	}
}

// Color only on a terminal, and never with NO_COLOR.
func TestColorHonoursNoColor(t *testing.T) {
	h := newHarness(t)
	cfg, _ := dataDB(t)
	h.store("c", cfg)
	if r := h.want(exitOK, "config", "check"); strings.Contains(r.stdout, "\x1b[") {
		t.Fatalf("color written to a non-terminal:\n%q", r.stdout)
	}
	old := isTerminal
	isTerminal = func(io.Writer) bool { return true }
	defer func() { isTerminal = old }()
	if r := h.want(exitOK, "config", "check"); !strings.Contains(r.stdout, "\x1b[32mok\x1b[0m") {
		t.Fatalf("no color on a terminal:\n%q", r.stdout)
	}
	h.env["NO_COLOR"] = "1"
	if r := h.want(exitOK, "config", "check"); strings.Contains(r.stdout, "\x1b[") {
		t.Fatalf("color despite NO_COLOR:\n%q", r.stdout)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || isTerminal(io.Discard) {
		t.Error("a file or a buffer taken for a terminal")
	}
}
