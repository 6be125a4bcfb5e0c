package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/redistest"
	"github.com/ria-go/ria/uniquevisits"
)

// The databases the tour uses on real servers: 1 to 15, the configs in database 1 of the first.
const (
	firstDB  = 1
	lastDB   = 15
	configDB = 1
)

// slot is one database on one real server.
type slot struct {
	addr string
	db   int
}

func (s slot) String() string { return fmt.Sprintf("%s db %d", s.addr, s.db) }

// runTour runs the tour as its command does, with args, and returns the exit code and the output.
func runTour(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = tour.MainArgs("tour", append([]string{"-timeout", "2m"}, args...), &o, &e, parts...)
	return code, o.String(), e.String()
}

// sizes returns DBSIZE of databases 0 to 15 of s.
func sizes(t *testing.T, s *redistest.Server) [lastDB + 1]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out [lastDB + 1]int64
	for db := range out {
		o := s.Options()
		o.DB = db
		c := redis.NewClient(o)
		n, err := c.DBSize(ctx).Result()
		c.Close()
		if err != nil {
			t.Fatalf("%s db %d: %v", s.Addr(), db, err)
		}
		out[db] = n
	}
	return out
}

// checkDB0Empty fails unless database 0 of every server is empty.
func checkDB0Empty(t *testing.T, servers ...*redistest.Server) {
	t.Helper()
	for _, s := range servers {
		if n := sizes(t, s)[0]; n != 0 {
			t.Errorf("%s: database 0 holds %d keys; the tour uses databases 1 to 15 only", s.Addr(), n)
		}
	}
}

// The tour on one real server, as `go run ./examples/tour -addr HOST:PORT` on a fresh redis-server:
// chapter 10's 17 servers share its 14 free databases and the counts stay right; database 0 stays
// empty; a second run is refused because the databases now hold the first run's keys, and changes
// nothing; -flush empties them and runs chapter 10 again.
func TestTourOneServer(t *testing.T) {
	t.Parallel()
	s := redistest.RunT(t, nil)
	code, out, errOut := runTour(t, "-addr", s.Addr())
	if code != 0 {
		t.Fatalf("tour -addr %s: exit %d; want 0\nstderr: %s\noutput:\n%s", s.Addr(), code, errOut, out)
	}
	checkTour(t, out)
	checkDB0Empty(t, s)
	if !strings.Contains(out, "(servers 0 and 14, 1 and 15 share a database: give more -addr addresses") {
		t.Errorf("one address: ch10 does not say which servers share a database\n%s", out)
	}

	before := sizes(t, s)
	if before[configDB] == 0 {
		t.Fatalf("database %d holds no configs after the tour", configDB)
	}
	code, out, errOut = runTour(t, "-addr", s.Addr())
	if code != 1 || !strings.Contains(errOut, tour.ErrNotEmpty.Error()) || !strings.Contains(errOut, "pass -flush") {
		t.Errorf("second run: exit %d, stderr %q; want 1 and a refusal naming -flush", code, errOut)
	}
	if strings.Contains(out, "==") {
		t.Errorf("the refused run ran chapters:\n%s", out)
	}
	if after := sizes(t, s); after != before {
		t.Errorf("the refused run changed the databases: %v, then %v", before, after)
	}

	code, out, errOut = runTour(t, "-addr", s.Addr(), "-flush", "-chapter", "ch10")
	if code != 0 {
		t.Fatalf("-flush: exit %d; want 0\nstderr: %s\noutput:\n%s", code, errOut, out)
	}
	checkTour(t, out, "ch10")
	if !strings.Contains(out, fmt.Sprintf("-flush: emptied %s db %d (%d keys)", s.Addr(), configDB, before[configDB])) {
		t.Errorf("-flush does not say what it emptied:\n%s", out)
	}
	checkDB0Empty(t, s)
}

// The tour on three servers: one database for each of chapter 10's servers, none shared, and
// database 0 of every server empty. Chapter 9 (one server, and CPU-bound) runs in TestTourOneServer.
func TestTourThreeServers(t *testing.T) {
	t.Parallel()
	servers := redistest.RunShardsT(t, 3, nil)
	code, out, errOut := runTour(t, "-addr", strings.Join(servers.Addrs(), ","), "-chapter", "ch04,ch05,ch10")
	if code != 0 {
		t.Fatalf("tour on 3 servers: exit %d; want 0\nstderr: %s\noutput:\n%s", code, errOut, out)
	}
	checkTour(t, out, "ch04", "ch05", "ch10")
	checkDB0Empty(t, servers...)
	if strings.Contains(out, "share a database") {
		t.Errorf("three addresses: ch10 servers share a database\n%s", out)
	}
	// The configs are in database 1 of the first; the first part's server is database 1 of the second.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o := servers[0].Options()
	o.DB = configDB
	c := redis.NewClient(o)
	defer c.Close()
	logs, err := c.Get(ctx, "config:redis:logs").Result()
	if want := fmt.Sprintf(`"addr":%q,"db":1}`, servers[1].Addr()); err != nil || !strings.Contains(logs, want) {
		t.Errorf("config:redis:logs = %q, %v; want %s", logs, err, want)
	}
	// Every component of this run has a database of its own.
	keys, err := c.Keys(ctx, "config:redis:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	where := map[slot]string{}
	for _, k := range keys {
		var cfg struct {
			Addr string
			DB   *int
		}
		if err := json.Unmarshal([]byte(c.Get(ctx, k).Val()), &cfg); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if cfg.DB == nil {
			continue // ch04's own redistest servers
		}
		s := slot{cfg.Addr, *cfg.DB}
		if other, ok := where[s]; ok {
			t.Errorf("%s and %s share %s", other, k, s)
		}
		if s == (slot{servers[0].Addr(), configDB}) || s.db == 0 {
			t.Errorf("%s names %s", k, s)
		}
		where[s] = k
	}
	if len(where) < uniquevisits.Shards+1 {
		t.Errorf("%d components on the servers; want at least %d", len(where), uniquevisits.Shards+1)
	}
}

// The refusal of a non-empty database, wherever in 1 to 15 its keys are: typed, listing the
// databases, exit code 1, and nothing written anywhere. Keys in database 0 are not the tour's concern.
func TestTourRefusesNonEmptyDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	servers := redistest.RunShardsT(t, 2, nil)
	addr := strings.Join(servers.Addrs(), ",")
	r := rand.New(rand.NewPCG(5, uint64(time.Now().UnixNano())))
	for range 8 {
		s := servers[r.IntN(len(servers))]
		db := firstDB + r.IntN(lastDB-firstDB+1)
		o := s.Options()
		o.DB = db
		c := redis.NewClient(o)
		if err := c.Set(ctx, "precious", "data", 0).Err(); err != nil {
			t.Fatal(err)
		}
		before := [2][lastDB + 1]int64{sizes(t, servers[0]), sizes(t, servers[1])}
		var out bytes.Buffer
		err := tour.Run(ctx, &out, tour.Options{Addr: addr, Only: "ch05"}, parts...)
		var ne *tour.NotEmptyError
		want := []tour.Database{{Addr: s.Addr(), DB: db, Keys: 1}}
		if !errors.As(err, &ne) || !errors.Is(err, tour.ErrNotEmpty) || fmt.Sprint(ne.Databases) != fmt.Sprint(want) {
			t.Errorf("data in %s db %d: %v; want a NotEmptyError listing %v", s.Addr(), db, err, want)
		} else if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("%s db %d (1 key)", s.Addr(), db)) || !strings.Contains(msg, "-flush") {
			t.Errorf("the refusal does not say where and how: %q", msg)
		}
		if tour.ExitCode(err) != 1 {
			t.Errorf("exit code %d for a refusal; want 1", tour.ExitCode(err))
		}
		if after := [2][lastDB + 1]int64{sizes(t, servers[0]), sizes(t, servers[1])}; after != before {
			t.Errorf("a refused run changed the databases: %v, then %v", before, after)
		}
		c.Del(ctx, "precious")
		c.Close()
	}

	// Keys in database 0 do not stop the tour, and it leaves them alone.
	o := servers[0].Options()
	db0 := redis.NewClient(o)
	defer db0.Close()
	if err := db0.Set(ctx, "precious", "data", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tour.Run(ctx, &out, tour.Options{Addr: addr, Only: "ch05"}, parts...); err != nil {
		t.Fatalf("keys in database 0 only: %v\n%s", err, out.String())
	}
	checkTour(t, out.String(), "ch05")
	if n := db0.DBSize(ctx).Val(); n != 1 || db0.Get(ctx, "precious").Val() != "data" {
		t.Errorf("database 0 holds %d keys after the tour; want the 1 it had", n)
	}
}
