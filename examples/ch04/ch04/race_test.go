package ch04

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ria-go/ria/examples/internal/tour"
	"github.com/ria-go/ria/market"
)

// A WATCH market that gives up at once loses to contention often in the race: each loss is counted,
// the buyer tries again, and money and items are still conserved.
func TestMarketRaceCountsContention(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	env, err := tour.NewEnv(ctx, &out, tour.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	cfg, err := env.Server(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Registry.SetConfig(ctx, "market", cfg); err != nil {
		t.Fatal(err)
	}
	impatient, err := market.NewWatch(&market.Options{PurchaseTimeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := race(ctx, env, env.Registry, "impatient", impatient); err != nil {
		t.Fatalf("race: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`impatient: +(\d+) bought in .*, (\d+) gave up under contention\n +funds conserved \((\d+)\)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no race summary in the output:\n%s", out.String())
	}
	bought, _ := strconv.Atoi(m[1])
	total, _ := strconv.Atoi(m[3])
	if bought != raceItems || total != raceBuyers*raceFunds {
		t.Errorf("bought %d, funds %d; want %d, %d\n%s", bought, total, raceItems, raceBuyers*raceFunds, out.String())
	}
	t.Logf("%s purchases gave up under contention", m[2])
}
