package main

import (
	"strings"
	"testing"

	"github.com/ria-go/ria/redistest"
)

// When time runs out, the patterns' commands name what did not answer: the config Redis (and the
// config key being read), as config get does, or the component's server.
func TestTimeoutNamesWhatHung(t *testing.T) {
	paused := redistest.RunT(t, nil)
	if err := paused.Pause(); err != nil {
		t.Fatal(err)
	}
	defer paused.Resume()

	h := newHarness(t)
	h.env["RIA_CONFIG_URL"] = paused.Addr()
	for _, tc := range []struct {
		args []string
		key  string
	}{
		{[]string{"visits", "count"}, "unique"},
		{[]string{"visits", "recount", "--component", "vis"}, "vis"},
		{[]string{"market", "ls"}, "market"},
		{[]string{"market", "user", "1", "--component", "shop"}, "shop"},
		{[]string{"logs", "progress"}, "logs"},
		{[]string{"config", "get", "x"}, "x"},
	} {
		r := h.want(exitFail, append([]string{"--timeout", "300ms"}, tc.args...)...)
		contains(t, r, h.prefix+tc.key, "config Redis", paused.Addr(), "--timeout 300ms")
	}

	// The configs are read; the data server is the one that does not answer.
	h = newHarness(t)
	cfg := `{"addr": "` + paused.Addr() + `"}`
	for _, c := range []string{"shop", "logs", "unique"} {
		h.store(c, cfg)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"market", "ls", "--component", "shop"}, "shop (" + paused.Addr() + ")"},
		{[]string{"logs", "progress"}, "logs (" + paused.Addr() + ")"},
		{[]string{"visits", "count"}, "unique (" + paused.Addr() + ")"},
	} {
		r := h.want(exitFail, append([]string{"--timeout", "300ms"}, tc.args...)...)
		contains(t, r, tc.says, "--timeout 300ms")
		if strings.Contains(r.stderr, "config Redis") {
			t.Errorf("ria %s blames the config Redis: %s", strings.Join(tc.args, " "), r)
		}
	}
}
