package tour

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/conn"
	"github.com/ria-go/ria/internal/noretry"
)

// slotClient is a client of one database, through conn's config as every registry client:
// ContextTimeoutEnabled (go-redis ignores ctx deadlines on reads without it) and no retries.
func slotClient(s slot) (redis.UniversalClient, error) {
	cfg, err := conn.ParseConfig([]byte(fmt.Sprintf(`{"addr": %q, "db": %d}`, s.addr, s.db)))
	if err != nil {
		return nil, err
	}
	return cfg.NewClient()
}

func flushDB(ctx context.Context, s slot) error {
	c, err := slotClient(s)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("%s: FLUSHDB: %w", s, err)
	}
	return nil
}

// inspect reads a server's run_id ("" when INFO is refused) and the sizes of databases 1 to 15, on
// one connection that only reads: INFO, then SELECT and DBSIZE for each.
func inspect(ctx context.Context, addr string) (runID string, sizes map[int]int64, err error) {
	c, err := slotClient(slot{addr, 0}) // db 0: no SELECT at connect; nothing here writes
	if err != nil {
		return "", nil, err
	}
	defer c.Close()
	rc, ok := c.(*redis.Client)
	if !ok {
		return "", nil, fmt.Errorf("server %s: client is %T", addr, c)
	}
	cn := rc.Conn()
	defer cn.Close()
	info, err := cn.Info(ctx, "server").Result()
	switch {
	case err == nil:
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
				runID = v
			}
		}
	case redis.IsAuthError(err):
		return "", nil, accessErr(addr, "INFO", err)
	case !noretry.IsErrorReply(err): // an error reply: INFO renamed or denied, go on without run_id
		return "", nil, fmt.Errorf("server %s: %w", addr, err)
	}
	sel := map[int]*redis.StatusCmd{}
	size := map[int]*redis.IntCmd{}
	_, err = cn.Pipelined(ctx, func(p redis.Pipeliner) error {
		for db := firstDB; db <= lastDB; db++ {
			sel[db] = p.Select(ctx, db)
			size[db] = p.DBSize(ctx)
		}
		return nil
	})
	if err != nil && !noretry.IsErrorReply(err) {
		return "", nil, fmt.Errorf("server %s: %w", addr, err)
	}
	sizes = map[int]int64{}
	for db := firstDB; db <= lastDB; db++ {
		if err := sel[db].Err(); err != nil {
			switch {
			case redis.IsAuthError(err) || redis.IsPermissionError(err):
				return "", nil, accessErr(addr, fmt.Sprintf("SELECT %d", db), err)
			case noDatabase(err):
				return "", nil, fmt.Errorf("%w: server %s refuses SELECT %d (%v): the tour uses databases %d to %d", ErrNoDatabase, addr, db, err, firstDB, lastDB)
			}
			return "", nil, fmt.Errorf("server %s: SELECT %d: %w", addr, db, err)
		}
		if sizes[db], err = size[db].Result(); err != nil {
			if redis.IsAuthError(err) || redis.IsPermissionError(err) {
				return "", nil, accessErr(addr, "DBSIZE", err)
			}
			return "", nil, fmt.Errorf("server %s db %d: DBSIZE: %w", addr, db, err)
		}
	}
	return runID, sizes, nil
}

// noDatabase reports a SELECT refused because the database is not there: out of range, or a
// Redis Cluster node, which has database 0 only.
func noDatabase(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	return strings.Contains(msg, "DB index is out of range") || strings.Contains(msg, "not allowed in cluster mode")
}

// accessErr is a refusal of the tour's connection, which carries no credentials.
func accessErr(addr, cmd string, err error) error {
	what := "asks for authentication"
	if redis.IsPermissionError(err) {
		what = "denies its default user a command the tour needs"
	}
	return fmt.Errorf("%w: server %s %s (%s: %v): the tour connects with no user or password, so use a server whose default user needs none and may run every command",
		ErrAccess, addr, what, cmd, err)
}

// prepare checks the real servers before anything is written: distinct servers, each with
// databases 1 to 15, all empty; with -flush, it empties those that are not.
func (e *Env) prepare(ctx context.Context) error {
	byID := map[string]string{}
	var full []Database
	for _, a := range e.addrs {
		id, sizes, err := inspect(ctx, a)
		if err != nil {
			return err
		}
		if other, ok := byID[id]; ok && id != "" {
			return fmt.Errorf("%w: %s and %s (run_id %s)", ErrSameServer, other, a, id)
		}
		byID[id] = a
		for db := firstDB; db <= lastDB; db++ {
			if sizes[db] > 0 {
				full = append(full, Database{Addr: a, DB: db, Keys: sizes[db]})
			}
		}
	}
	if len(full) > 0 && !e.flush {
		return &NotEmptyError{Databases: full}
	}
	for _, d := range full {
		if err := flushDB(ctx, slot{d.Addr, d.DB}); err != nil {
			return err
		}
	}
	e.flushed = full
	return nil
}

// parseAddrs splits -addr's comma-separated host:port list. A list with an '@' (a URL's user and
// password, which may hold commas) is refused without echoing any of it.
func parseAddrs(s string) ([]string, error) {
	if strings.Contains(s, "@") {
		return nil, fmt.Errorf("%w: it names a user or password (an '@'): give host:port only", ErrBadAddr)
	}
	parts := strings.Split(s, ",")
	seen := map[string]bool{}
	var addrs []string
	for i, a := range parts {
		a = strings.TrimSpace(a)
		where := fmt.Sprintf("entry %d of %d", i+1, len(parts))
		if a == "" {
			return nil, fmt.Errorf("%w: %s is empty", ErrBadAddr, where)
		}
		if err := checkAddr(a); err != nil {
			return nil, fmt.Errorf("%w: %s, %q: %v", ErrBadAddr, where, a, err)
		}
		if seen[a] {
			return nil, fmt.Errorf("%w: %q given twice", ErrSameServer, a)
		}
		seen[a] = true
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// checkAddr accepts host:port with a port from 1 to 65535, as conn's config does.
func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return errors.New("not host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
		return errors.New("the port is not a number from 1 to 65535")
	}
	if _, err := conn.ParseConfig([]byte(fmt.Sprintf(`{"addr": %q, "db": %d}`, a, configDB))); err != nil {
		return errors.New("not host:port")
	}
	return nil
}
