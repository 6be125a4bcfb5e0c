package conn

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// applyURL expands a redis://, rediss:// or unix:// URL as go-redis's ParseURL reads it, checking each
// part and query option with the rule of the matching JSON field.
func (p *parseState) applyURL(c *Config) error {
	hint := ""
	if misplacedAt(p.url) {
		hint = " (an '@' follows a '/', '?' or '#': in a user name or password, write / ? # @ % as %2F %3F %23 %40 %25)"
	}
	bad := func(format string, a ...any) error {
		return fieldErr("url", fmt.Errorf("%w: %s%s", ErrBadConfig, fmt.Sprintf(format, a...), hint))
	}
	u, err := url.Parse(p.url) // its error repeats the URL: never shown
	if err != nil {
		if hint == "" {
			hint = " (in a user name or password, write / ? # @ % as %2F %3F %23 %40 %25)"
		}
		return bad("not a valid URL")
	}
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
		return bad("the scheme must be redis, rediss or unix")
	case u.Opaque != "":
		return bad("no \"//\" after the scheme")
	case strings.Contains(p.url, "#"):
		return bad("a fragment ('#') means nothing to Redis")
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	db := ""
	if u.Scheme == "unix" {
		if u.Host != "" {
			return bad("a unix:// URL names no host: write unix:///path/to/redis.sock")
		}
		if strings.TrimSpace(u.Path) == "" {
			return bad("the socket path is empty")
		}
		if err := checkSocketPath(u.Path); err != nil {
			return bad("the socket path %v", err)
		}
		c.Network, c.Addr = "unix", u.Path
	} else {
		host := u.Hostname()
		if host == "" {
			host = "localhost" // go-redis's and redis-py's default
		}
		if err := checkHost(host); err != nil {
			return bad("the host %v", err)
		}
		port := 6379
		if s := u.Port(); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 65535 {
				return bad("the port must be 1 to 65535")
			}
			port = n
		}
		c.Network, c.Addr = "tcp", net.JoinHostPort(host, strconv.Itoa(port))
		switch f := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' }); len(f) {
		case 0:
		case 1:
			db = f[0]
		default:
			return bad("the path must be empty or /<database number>")
		}
		if u.Scheme == "rediss" {
			p.ssl = true
			c.TLS = &TLSConfig{} // ServerName empty: the host dialed, as go-redis sets it
		}
	}
	if db != "" {
		if err := lookup("db").apply(c, p, input{text: db, query: true}); err != nil {
			return bad("the path's database number %v", err)
		}
	}

	q, err := url.ParseQuery(u.RawQuery) // u.Query() would drop what it cannot parse
	if err != nil {
		return bad("the query is not valid (write & between options, and %% as %%25)")
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f := lookup(name)
		if f == nil || !f.query {
			return bad("%s", unknownOption(name))
		}
		vs := q[name]
		if len(vs) > 1 {
			return bad("query option %q is given %d times", name, len(vs))
		}
		if vs[0] == "" {
			continue // go-redis: an empty value means the default
		}
		if name == "db" && db != "" {
			return bad("the database is named twice, in the path and in query option \"db\"")
		}
		for _, g := range fields {
			if p.seen[g.name] && slices.ContainsFunc(g.fills(), func(s string) bool { return slices.Contains(f.fills(), s) }) {
				return fieldErr(g.name, fmt.Errorf("%w: cannot be combined with the url's query option %q", ErrBadConfig, name))
			}
			if p.query[g.name] && slices.ContainsFunc(g.fills(), func(s string) bool { return slices.Contains(f.fills(), s) }) {
				return bad("query options %q and %q set the same option", g.name, name)
			}
		}
		if err := f.apply(c, p, input{text: vs[0], query: true}); err != nil {
			return bad("query option %q: %v", name, err)
		}
		p.query[name] = true
	}
	return nil
}

// misplacedAt reports whether an '@' comes after the authority's end, the mark of a password holding
// '/', '?' or '#' unescaped.
func misplacedAt(raw string) bool {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return false
	}
	at := strings.LastIndex(rest, "@")
	end := strings.IndexAny(rest, "/?#")
	return at >= 0 && end >= 0 && end < at
}

// unknownOption explains a query option go-redis does not read, naming only known options: the
// unknown name itself may be a piece of a password.
func unknownOption(name string) string {
	if f := lookup(name); f != nil {
		return fmt.Sprintf("query option %q is not one go-redis reads from a URL", f.name)
	}
	best, dist := "", 3
	for _, f := range fields {
		if d := editDistance(name, f.name); f.query && d < dist {
			best, dist = f.name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("an unknown query option (did you mean %q?)", best)
	}
	var known []string
	for _, f := range fields {
		if f.query {
			known = append(known, f.name)
		}
	}
	return "an unknown query option (go-redis reads " + strings.Join(known, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
