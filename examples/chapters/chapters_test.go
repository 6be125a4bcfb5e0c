package chapters

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

func checkTour(t *testing.T, out string) {
	t.Helper()
	for _, c := range All() {
		if !strings.Contains(out, "== "+c.Name+": "+c.Title) {
			t.Errorf("the tour did not run %s (%s)", c.Name, c.Title)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// The tour's default: every chapter on embedded miniredis servers.
func TestTourEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, "", "", false); err != nil {
		t.Fatalf("tour: %v\noutput:\n%s", err, out.String())
	}
	checkTour(t, out.String())
}

// The tour on real servers given by address, as with -addr or RIA_REDIS_ADDR.
func TestTourRealServers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	servers := redistest.RunShardsT(t, 2, nil)
	var out bytes.Buffer
	if err := run(ctx, &out, strings.Join(servers.Addrs(), ","), "", false); err != nil {
		t.Fatalf("tour: %v\noutput:\n%s", err, out.String())
	}
	checkTour(t, out.String())
}

func TestTourRefusesNonEmptyDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := redistest.RunT(t, nil)
	o := s.Options()
	o.DB = 1
	db1 := redis.NewClient(o)
	defer db1.Close()
	if err := db1.Set(ctx, "precious", "data", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(ctx, &out, s.Addr(), "ch05", false)
	if err == nil || !strings.Contains(err.Error(), "-flush") {
		t.Fatalf("tour on a non-empty database: %v; want a refusal mentioning -flush", err)
	}
	if got, _ := db1.Get(ctx, "precious").Result(); got != "data" {
		t.Fatal("the tour touched a non-empty database")
	}
}

func TestTourUnknownChapter(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, "", "ch99", false); err == nil {
		t.Fatal("running an unknown chapter succeeded")
	}
}
