package conn

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

func fieldErr(name string, err error) *ConfigError { return &ConfigError{Field: name, Err: err} }

// jsonMsg describes a decoding error without quoting the input.
func jsonMsg(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		kind, _, _ := strings.Cut(te.Value, " ") // "number 1e400": the kind only
		return "got a JSON " + kind
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "it ends too soon"
	}
	return "not valid JSON"
}

func decodeAddrs(raw json.RawMessage) ([]string, error) {
	var addrs []string
	if err := json.Unmarshal(raw, &addrs); err != nil {
		return nil, fmt.Errorf(`must be a list of "host:port" strings: %s`, jsonMsg(err))
	}
	if len(addrs) == 0 {
		return nil, errors.New("must list at least one address")
	}
	for i, a := range addrs {
		if err := checkHostPort(a); err != nil {
			return nil, fmt.Errorf("entry %d %v", i+1, err)
		}
	}
	return addrs, nil
}

// decodeSentinel reads {"master", "addrs", "username", "password"}, keys matched exactly.
func decodeSentinel(raw json.RawMessage) (*sentinelConfig, error) {
	const shape = `must be an object {"master", "addrs", "username", "password"}`
	if bytes.TrimLeft(raw, " \t\r\n")[0] != '{' {
		return nil, errors.New(shape)
	}
	ms, ce := members(raw)
	if ce != nil {
		if ce.Field != "" {
			return nil, fmt.Errorf("%q: %v", ce.Field, ce.Err)
		}
		return nil, ce.Err
	}
	s := &sentinelConfig{}
	for _, m := range ms {
		if string(m.raw) == "null" {
			continue
		}
		in := input{raw: m.raw}
		var err error
		switch m.name {
		case "master":
			s.master, err = in.nonEmpty()
			if err == nil {
				err = checkName(s.master)
			}
		case "addrs":
			s.addrs, err = decodeAddrs(m.raw)
		case "username":
			s.username, err = in.str()
		case "password":
			s.password, err = in.str()
		default:
			return nil, fmt.Errorf("unknown key %q (the keys are master, addrs, username and password, in lower case)", m.name)
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %v", m.name, err)
		}
	}
	if s.master == "" {
		return nil, errors.New(`"master" is missing`)
	}
	if len(s.addrs) == 0 {
		return nil, errors.New(`"addrs" is missing`)
	}
	return s, nil
}

// checkHostPort accepts host:port with checkHost's host and a port from 1 to 65535.
func checkHostPort(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return errors.New(`is not "host:port"`)
	}
	if err := checkHost(host); err != nil {
		return errors.New(`is not "host:port": the host ` + err.Error())
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strings.ContainsAny(port, "+-") {
		return errors.New(`is not "host:port": the port must be 1 to 65535`)
	}
	return nil
}

// maxZone is the longest IPv6 zone accepted: an interface name (Linux's IFNAMSIZ less its NUL; a
// Windows zone is a number).
const maxZone = 15

// checkHost accepts an IP address or a host name of ASCII letters, digits, '-', '_' and '.'. Nothing
// else: no port, brackets or spaces, so joining it with a port cannot make an address that means
// something else, and no '@' or ':', so a URL's credentials pasted into it are refused, not shown.
// An IPv6 address's zone ("fe80::1%eth0") is held to the same letters, as an interface name, since
// netip accepts any text there.
func checkHost(h string) error {
	if a, err := netip.ParseAddr(h); err == nil && (a.Is4() || a.Is6()) {
		if z := a.Zone(); z != "" && (len(z) > maxZone || !nameBytes(z)) {
			return fmt.Errorf("is an IPv6 address whose zone (after '%%') is not an interface name of at most %d "+
				"ASCII letters, digits, '-', '_' and '.'", maxZone)
		}
		return nil
	}
	ok := h != "" && len(h) <= 253 && h[0] != '.' && h[0] != '-' && !strings.Contains(h, "..") && nameBytes(h)
	if !ok {
		return errors.New("is not an IP address or a host name of letters, digits, '-', '_' and '.' " +
			"(a port goes in \"port\", a non-ASCII name in its xn-- form)")
	}
	return nil
}

// nameBytes reports whether s holds only ASCII letters, digits, '-', '_' and '.'.
func nameBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

// checkSocketPath refuses control characters, and anything that looks like a URL or credentials
// (an '@' past the first byte: a leading one names a Linux abstract socket).
func checkSocketPath(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0:
		return errors.New("holds a control character")
	case strings.Contains(s, "://") || strings.Contains(s[1:], "@"):
		return errors.New("looks like a URL or holds credentials ('@'): give a URL as \"url\"")
	}
	return nil
}

// checkClientName applies Redis's rule for CLIENT SETNAME: printable ASCII, no spaces. Redis refuses
// anything else, and go-redis sends the name on every new connection, so every call would fail.
func checkClientName(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return errors.New("must be printable ASCII without spaces (Redis refuses any other CLIENT SETNAME)")
		}
	}
	return nil
}

// checkName holds a sentinel master's name to the charset Redis documents for it (sentinel.conf:
// "A-z 0-9 and the three characters '.-_'"). A name is printed as is, so a URL or credentials
// pasted into it (':', '/', '@') must be refused, not shown.
func checkName(s string) error {
	if !nameBytes(s) {
		return errors.New("must be ASCII letters, digits, '.', '-' and '_', as Sentinel names masters " +
			"(a sentinel's address goes in \"addrs\", its password in \"password\")")
	}
	return nil
}

// decodeTLSVersion reads ssl_min_version as redis-py writes it: Python's ssl.TLSVersion, which JSON
// encodes as its number (771 is TLS 1.2), or its name ("TLSv1_2"). Below TLS 1.2 is refused.
func decodeTLSVersion(raw json.RawMessage, dst *uint16) error {
	n, err := input{raw: raw}.integer()
	if err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return errors.New(`must be a TLS version: 771, 772, "TLSv1_2" or "TLSv1_3"`)
		}
		switch strings.NewReplacer(".", "_", "-", "_").Replace(strings.ToUpper(strings.TrimPrefix(s, "ssl.TLSVersion."))) {
		case "TLSV1_2", "1_2", "MINIMUM_SUPPORTED":
			n = tls.VersionTLS12
		case "TLSV1_3", "1_3", "MAXIMUM_SUPPORTED":
			n = tls.VersionTLS13
		case "TLSV1", "TLSV1_0", "1_0", "TLSV1_1", "1_1", "SSLV3":
			return errors.New("is below TLS 1.2, which conn does not allow")
		default:
			return errors.New(`is not a TLS version ("TLSv1_2" or "TLSv1_3")`)
		}
	}
	switch n {
	case -2, tls.VersionTLS12: // -2: ssl.TLSVersion.MINIMUM_SUPPORTED
		*dst = tls.VersionTLS12
	case -1, tls.VersionTLS13: // -1: MAXIMUM_SUPPORTED
		*dst = tls.VersionTLS13
	case tls.VersionTLS10, tls.VersionTLS11, 0x0300: // 0x0300: SSL 3.0
		return errors.New("is below TLS 1.2, which conn does not allow")
	default:
		return errors.New("is not a TLS version (771 for TLS 1.2, 772 for 1.3)")
	}
	return nil
}
