package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Status words; the table colors them on a terminal.
const (
	stOK   = "ok"
	stFail = "FAIL"
	stDown = "down"
	stWarn = "warn"
)

var palette = map[string]string{
	stOK: "\x1b[32m", "up": "\x1b[32m", stFail: "\x1b[31m", stDown: "\x1b[31m", stWarn: "\x1b[33m",
}

// table prints rows under head, columns padded to their widest cell; with color, status words are
// colored (padding is computed on the plain text).
func (e *env) table(head []string, rows [][]string) {
	widths := make([]int, len(head))
	all := append([][]string{head}, rows...)
	for _, r := range all {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	for _, r := range all {
		var b strings.Builder
		for i, c := range r {
			if i >= len(widths) {
				break
			}
			text := c
			if col, ok := palette[c]; ok && e.color {
				text = col + c + "\x1b[0m"
			}
			b.WriteString(text)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		fmt.Fprintln(e.stdout, strings.TrimRight(b.String(), " "))
	}
}

// pairs prints "name  value" lines, names aligned.
func (e *env) pairs(kv [][2]string) {
	w := 0
	for _, p := range kv {
		w = max(w, utf8.RuneCountInString(p[0]))
	}
	for _, p := range kv {
		v := p[1]
		if col, ok := palette[v]; ok && e.color {
			v = col + v + "\x1b[0m"
		}
		fmt.Fprintf(e.stdout, "%s%s  %s\n", p[0], strings.Repeat(" ", w-utf8.RuneCountInString(p[0])), v)
	}
}

// ms shows a round trip.
func ms(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

// bytesHuman shows a size as Redis's INFO *_human fields do.
func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, u := float64(n), "B"
	for _, s := range []string{"K", "M", "G", "T"} {
		if f < unit {
			break
		}
		f, u = f/unit, s
	}
	return fmt.Sprintf("%.2f%s", f, u)
}

// errText is an error as a table cell: one line.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// progressBar draws done/total on w, redrawn in place; finish ends its line.
type progressBar struct {
	w     io.Writer
	on    bool
	width int
}

func (p *progressBar) update(done, total int, label string) {
	if !p.on || total <= 0 {
		return
	}
	if p.width == 0 {
		p.width = 30
	}
	fill := done * p.width / total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %s\x1b[K", strings.Repeat("#", fill), strings.Repeat(".", p.width-fill), done, total, label)
}

func (p *progressBar) finish() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
