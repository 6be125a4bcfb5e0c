package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
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
// colored (padding is computed on the plain text). Every cell is shown through shown: a cell holds
// text from Redis (names, items, file names), which must not draw on the terminal or forge rows.
func (e *env) table(head []string, rows [][]string) {
	widths := make([]int, len(head))
	all := make([][]string, 0, len(rows)+1)
	for _, r := range append([][]string{head}, rows...) {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = shown(c)
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(cells[i]))
			}
		}
		all = append(all, cells)
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

// pairs prints "name  value" lines, names aligned; both are shown through shown, as table cells.
func (e *env) pairs(kv [][2]string) {
	w := 0
	for _, p := range kv {
		w = max(w, utf8.RuneCountInString(shown(p[0])))
	}
	for _, p := range kv {
		name, v := shown(p[0]), shown(p[1])
		if col, ok := palette[v]; ok && e.color {
			v = col + v + "\x1b[0m"
		}
		fmt.Fprintf(e.stdout, "%s%s  %s\n", name, strings.Repeat(" ", w-utf8.RuneCountInString(name)), v)
	}
}

// shown is text as one line of output: as it is when every character is printable, else
// double-quoted, with \n, \r, \t, \" and \\ escaped and every other byte of a non-printable
// character or of invalid UTF-8 as \xHH: the form redis-cli prints and reads back, and a Go string
// literal. Text that itself begins with a double quote is quoted too, so a quoted cell always means
// this form.
func shown(s string) string {
	if !needsQuote(s) {
		return s
	}
	return quote(s)
}

func needsQuote(s string) bool {
	return strings.HasPrefix(s, `"`) || !utf8.ValidString(s) ||
		strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) >= 0
}

// shownJSON is a JSON value as one line: as it is, unless it holds what shown would quote (JSON
// leaves DEL, C1 controls and invalid UTF-8 in strings as they are).
func shownJSON(v json.RawMessage) string {
	s := string(v)
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) >= 0 {
		return quote(s)
	}
	return s
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case (r == utf8.RuneError && n == 1) || !strconv.IsPrint(r):
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	b.WriteByte('"')
	return b.String()
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

// jsonSafe is v for --json: a copy in which every string that is not valid UTF-8, or that begins
// with a double quote, is in shown's quoted form. encoding/json would write U+FFFD for each bad
// byte, losing which key was meant; quoted, the bytes are all there, and a string that begins with
// a double quote is always this form. json.RawMessage (already JSON) is kept as it is.
func jsonSafe(v any) any {
	if v == nil {
		return nil
	}
	return safeValue(reflect.ValueOf(v)).Interface()
}

func safeValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); strings.HasPrefix(s, `"`) || !utf8.ValidString(s) {
			out := reflect.New(v.Type()).Elem()
			out.SetString(quote(s))
			return out
		}
	case reflect.Pointer:
		if !v.IsNil() {
			out := reflect.New(v.Type().Elem())
			out.Elem().Set(safeValue(v.Elem()))
			return out
		}
	case reflect.Interface:
		if !v.IsNil() {
			out := reflect.New(v.Type()).Elem()
			out.Set(safeValue(v.Elem()))
			return out
		}
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if out.Field(i).CanSet() {
				out.Field(i).Set(safeValue(v.Field(i)))
			}
		}
		return out
	case reflect.Slice:
		if !v.IsNil() && v.Type().Elem().Kind() != reflect.Uint8 {
			out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			for i := range v.Len() {
				out.Index(i).Set(safeValue(v.Index(i)))
			}
			return out
		}
	case reflect.Map:
		if !v.IsNil() {
			out := reflect.MakeMapWithSize(v.Type(), v.Len())
			for it := v.MapRange(); it.Next(); {
				out.SetMapIndex(safeValue(it.Key()), safeValue(it.Value()))
			}
			return out
		}
	}
	return v
}
