package redistest

import (
	"strings"
	"testing"
)

// splitArgs is redis-server's sdssplitargs (sds.c, Redis 7.0), which reads each redis.conf line:
// the reference quote is checked against here, and against real servers in TestPasswordBytes.
func splitArgs(line string) ([]string, bool) {
	isSpace := func(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }
	isHex := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	hexVal := func(c byte) byte {
		switch {
		case c <= '9':
			return c - '0'
		case c <= 'F':
			return c - 'A' + 10
		}
		return c - 'a' + 10
	}
	at := func(i int) byte { // the C string's byte, NUL past the end
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	var args []string
	p := 0
	for {
		for at(p) != 0 && isSpace(at(p)) {
			p++
		}
		if at(p) == 0 {
			return args, true
		}
		var cur []byte
		inq, insq := false, false
		for done := false; !done; {
			c := at(p)
			switch {
			case inq:
				switch {
				case c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
					cur = append(cur, hexVal(at(p+2))*16+hexVal(at(p+3)))
					p += 3
				case c == '\\' && at(p+1) != 0:
					p++
					e := at(p)
					switch e {
					case 'n':
						e = '\n'
					case 'r':
						e = '\r'
					case 't':
						e = '\t'
					case 'b':
						e = '\b'
					case 'a':
						e = '\a'
					}
					cur = append(cur, e)
				case c == '"':
					if at(p+1) != 0 && !isSpace(at(p+1)) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
				}
			case insq:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					cur = append(cur, '\'')
				case c == '\'':
					if at(p+1) != 0 && !isSpace(at(p+1)) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					cur = append(cur, c)
				}
			}
			if at(p) != 0 {
				p++
			}
		}
		args = append(args, string(cur))
	}
}

// readConfLine is how redis-server reads one directive of config text: split at newlines, trimmed,
// up to the first NUL (it reads standard input as a C string).
func readConfLine(text string) ([]string, bool) {
	if i := strings.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	lines := strings.Split(text, "\n")
	if len(lines) != 1 {
		return nil, false
	}
	return splitArgs(strings.Trim(lines[0], " \t\r\n"))
}

// FuzzQuote: every byte string, quoted, is read back by redis.conf's parser as the one argument it
// was, after a directive.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "s3cret", "a\u00a0b", "\u200b", "\x00", "\\x41", `"`, `\`, "'", "#x", " a ", "\n\r\t\b\a", "\xff\xfe", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, ok := readConfLine("requirepass " + quote(s))
		if !ok || len(args) != 2 || args[0] != "requirepass" || args[1] != s {
			t.Fatalf("quote(%q) = %s reads back as %q (ok %v)", s, quote(s), args, ok)
		}
	})
}

// TestStrconvQuoteDoesNotRoundTrip is the regression the reference parser catches: strconv.Quote's
// \u escapes, which redis.conf reads as the letter u.
func TestStrconvQuoteDoesNotRoundTrip(t *testing.T) {
	if args, _ := splitArgs(`requirepass "a\u00a0b"`); len(args) != 2 || args[1] != "au00a0b" {
		t.Fatalf("the reference parser reads %q; want the letters au00a0b, as redis-server does", args)
	}
	for _, s := range []string{"a\u00a0b", "\u200b", "\x7f", "\x00"} {
		if args, ok := splitArgs("requirepass " + quote(s)); !ok || len(args) != 2 || args[1] != s {
			t.Errorf("quote(%q) = %s reads back as %q", s, quote(s), args)
		}
	}
}
