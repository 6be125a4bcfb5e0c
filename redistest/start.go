package redistest

// Starting a server: its redis.conf, the process, readiness probes and free ports.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config renders the redis.conf that goes to standard input.
func (s *Server) config() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("daemonize no")
	line("dir %s", quote(s.dir))
	line("logfile %s", quote(filepath.Join(s.dir, "redis.log")))
	line("save %s", quote(""))         // no snapshots unless a test asks (Config may add save lines)
	line("repl-diskless-sync-delay 0") // the default waits 5 s for more replicas before a full sync
	if s.socket != "" {
		line("port 0")
		line("unixsocket %s", quote(s.socket))
		line("unixsocketperm 700")
	} else {
		line("bind %s", s.opt.Host)
		if s.tls != nil {
			line("port 0")
			line("tls-port %d", s.port)
			line("tls-cert-file %s", quote(s.tls.Cert))
			line("tls-key-file %s", quote(s.tls.Key))
			line("tls-ca-cert-file %s", quote(s.tls.CA))
			line("tls-auth-clients %s", map[bool]string{false: "no", true: "yes"}[s.opt.TLSAuthClients])
			line("tls-replication yes")
			line("tls-cluster yes")
		} else {
			line("port %d", s.port)
		}
	}
	if s.opt.AOF {
		line("appendonly yes")
		line("appendfsync everysec")
	}
	if s.opt.Password != "" {
		line("requirepass %s", quote(s.opt.Password))
	}
	for _, c := range s.opt.Config {
		line("%s", c)
	}
	return b.String()
}

// quote writes s as one double-quoted redis.conf argument that redis-server's parser (sdssplitargs)
// reads back byte for byte. strconv.Quote does not fit: the parser knows no \u, \U or octal escapes
// and reads "\u00a0" as "u00a0". Printable ASCII stays as it is, " and \ are escaped, and every
// other byte is \xHH, which the parser reads inside double quotes.
func quote(s string) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x20 && c < 0x7f:
			b = append(b, c)
		default:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
		}
	}
	return string(append(b, '"'))
}

var errAddrInUse = errors.New("address already in use")

// start launches the process and waits until it is ready. The caller has made sure it is not running.
func (s *Server) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opt.StartTimeout)
	defer cancel()

	logPath := filepath.Join(s.dir, "stdout.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	logStart, _ := fileSize(filepath.Join(s.dir, "redis.log"))

	cmd := exec.Command(s.opt.Executable, "-")
	cmd.Stdin = strings.NewReader(s.config())
	if s.opt.sentinel != nil {
		// A Sentinel rewrites its config file with what it learns, so it needs one on disk; a
		// restart keeps the file and with it the Sentinel's view of the masters.
		path := filepath.Join(s.dir, "sentinel.conf")
		if _, err := os.Stat(path); err != nil {
			if err := os.WriteFile(path, []byte(s.sentinelConfig()), 0o600); err != nil {
				out.Close()
				return fmt.Errorf("redistest: %w", err)
			}
		}
		cmd = exec.Command(s.opt.Executable, path, "--sentinel")
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = s.dir
	// Die with the test binary (no stray servers after a crash), and keep our signals to ourselves.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("redistest: start %s: %w", s.opt.Executable, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.paused = cmd, exited, false
	s.mu.Unlock()

	if err := s.waitReady(ctx, cmd.Process.Pid, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		log := s.logSince(logStart)
		if strings.Contains(log, "Address already in use") {
			return fmt.Errorf("redistest: %s: %w", s.Addr(), errAddrInUse)
		}
		stdout, _ := os.ReadFile(logPath)
		return fmt.Errorf("redistest: %s did not start: %w\nredis.log:\n%s\nstdout:\n%s", s.Addr(), err, s.redact(log), s.redact(string(stdout)))
	}
	return nil
}

func (s *Server) logSince(off int64) string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil || int64(len(b)) < off {
		return string(b)
	}
	return string(b[off:])
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// waitReady polls until the process pid answers PING and has loaded its dataset, the process exits,
// a probe is refused for good (a wrong password: waiting cannot fix it), or ctx ends.
func (s *Server) waitReady(ctx context.Context, pid int, exited <-chan struct{}) error {
	var last error
	for {
		select {
		case <-exited:
			return errors.New("process exited")
		case <-ctx.Done():
			return fmt.Errorf("%w (last probe: %v)", ctx.Err(), last)
		default:
		}
		if last = s.probe(ctx, pid); last == nil {
			return nil
		}
		var refused authError
		if errors.As(last, &refused) {
			return last
		}
		select {
		case <-exited:
			return errors.New("process exited")
		case <-ctx.Done():
			return fmt.Errorf("%w (last probe: %v)", ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// probe speaks RESP directly, so readiness does not depend on a client library's handshake. It
// checks that the server answering is process pid: when two test processes pick the same free port
// at once, the one whose server failed to bind would otherwise take the other's server for its own,
// and share its data.
func (s *Server) probe(ctx context.Context, pid int) error {
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	c, err := d.DialContext(ctx, s.Network(), s.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	if s.tls != nil {
		tc, err := s.tls.ClientConfig("localhost")
		if err != nil {
			return err
		}
		tcn := tls.Client(c, tc)
		defer tcn.Close()
		c = tcn
	}
	// A probe of a server that hangs gives up after a second, or at ctx's deadline if that is sooner.
	deadline := time.Now().Add(time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	r := bufio.NewReader(c)
	if s.opt.Password != "" {
		if _, err := roundTrip(c, r, "AUTH", s.opt.Password); err != nil {
			var re replyError
			if errors.As(err, &re) {
				return authError{err}
			}
			return err
		}
	}
	if _, err := roundTrip(c, r, "PING"); err != nil {
		var re replyError
		if errors.As(err, &re) && strings.HasPrefix(string(re), "NOAUTH") {
			return authError{err}
		}
		return err
	}
	info, err := roundTrip(c, r, "INFO", "server")
	if err != nil {
		return err
	}
	if !bytes.Contains(info, []byte("\r\nprocess_id:"+strconv.Itoa(pid)+"\r\n")) {
		return errNotOurs
	}
	if info, err = roundTrip(c, r, "INFO", "persistence"); err != nil {
		return err
	}
	if bytes.Contains(info, []byte("loading:1")) {
		return errors.New("still loading")
	}
	return nil
}

// errNotOurs: another process answers on the port (ours has not bound it yet, or could not).
var errNotOurs = errors.New("another process answers on the port")

// replyError is the server's error reply to a probe.
type replyError string

func (e replyError) Error() string { return string(e) }

// authError: the server refused the probe's AUTH, or wants one the probe has no password for. It
// answers the same until its configuration changes, so the start fails at once.
type authError struct{ err error }

func (e authError) Error() string { return "authentication refused: " + e.err.Error() }
func (e authError) Unwrap() error { return e.err }

// roundTrip sends one command and reads a simple, error or bulk reply.
func roundTrip(c net.Conn, r *bufio.Reader, args ...string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write(b.Bytes()); err != nil {
		return nil, err
	}
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 {
		return nil, errors.New("empty reply")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, replyError(line[1:])
	case '$':
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad bulk length %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return buf[:n], nil
	default:
		return nil, fmt.Errorf("unexpected reply %q", line)
	}
}
