package sync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/redistest"
)

// A replicated pair: the replica shares its master's replication id, the master lists it, and the
// AOF state is what the servers were started with.
func TestReadReplicationAndPersistence(t *testing.T) {
	ctx := context.Background()
	r := redistest.RunReplicatedT(t, &redistest.Options{AOF: true})
	master, replica := r.Master.Client(t), r.Replica.Client(t)
	if err := master.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// The master lists the replica as online once the first sync has finished: wait for it.
	var ms ReplicationState
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if ms, err = ReadReplication(ctx, master); err != nil {
			t.Fatal(err)
		}
		if len(ms.Links) == 1 && ms.Links[0].State == "online" || time.Now().After(deadline) {
			break
		}
	}
	rs, err := ReadReplication(ctx, replica)
	if err != nil {
		t.Fatal(err)
	}
	if ms.Role != "master" || rs.Role != "slave" || !rs.LinkUp || rs.ReplID == "" || rs.ReplID != ms.ReplID {
		t.Fatalf("master %+v, replica %+v: want master and linked replica sharing a replication id", ms, rs)
	}
	if len(ms.Links) != 1 || ms.Links[0].Addr != r.Replica.Addr() || ms.Links[0].State != "online" {
		t.Fatalf("master's replicas %+v; want one online at %s", ms.Links, r.Replica.Addr())
	}
	if rs.MasterPort != r.Master.Port() || rs.LinkDownSince != 0 {
		t.Fatalf("replica follows port %d, down %v; want %d, 0", rs.MasterPort, rs.LinkDownSince, r.Master.Port())
	}
	p, err := ReadPersistence(ctx, replica)
	if err != nil || !p.AOF || p.Fsync != "everysec" || !p.OK() || p.AOFLastWrite != "ok" {
		t.Fatalf("replica persistence %+v, %v; want AOF on, everysec, ok", p, err)
	}
	// A down master shows on the replica.
	if err := r.Master.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		rs, err = ReadReplication(ctx, replica)
		if err == nil && !rs.LinkUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica still reports its link up after the master was killed: %+v, %v", rs, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestReadQueriesBadInputAndEndedContext(t *testing.T) {
	if _, err := ReadReplication(context.Background(), nil); !errors.Is(err, ErrBadInput) {
		t.Errorf("nil client: %v; want ErrBadInput", err)
	}
	if _, err := ReadPersistence(context.Background(), nil); !errors.Is(err, ErrBadInput) {
		t.Errorf("nil client: %v; want ErrBadInput", err)
	}
	s := redistest.RunT(t, nil)
	c := s.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadReplication(ctx, c); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadReplication: %v; want context.Canceled", err)
	}
	if _, err := ReadPersistence(ctx, c); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadPersistence: %v; want context.Canceled", err)
	}
	// A user without CONFIG: Fsync is left empty, the rest is read.
	admin := s.Client(t)
	if err := admin.Do(context.Background(), "ACL", "SETUSER", "ro", "on", ">pw", "-@all", "+info", "+hello").Err(); err != nil {
		t.Fatal(err)
	}
	opt := s.Options()
	opt.Username, opt.Password = "ro", "pw"
	ro := redis.NewClient(opt)
	defer ro.Close()
	p, err := ReadPersistence(context.Background(), ro)
	if err != nil || p.Fsync != "" || p.RDBLastSave != "ok" {
		t.Errorf("without CONFIG: %+v, %v; want Fsync empty, the rest read", p, err)
	}
}

// Property: every replica line a master can print reads back as written.
func TestParseReplicaLineProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	states := []string{"online", "wait_bgsave", "send_bulk", "connect"}
	for i := 0; i < 5000; i++ {
		ip := fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256))
		if rng.IntN(4) == 0 {
			ip = fmt.Sprintf("fe80::%x", rng.IntN(1<<16))
		}
		want := ReplicaState{State: states[rng.IntN(len(states))], Offset: rng.Int64N(1 << 50),
			Lag: time.Duration(rng.IntN(100)) * time.Second}
		port := 1 + rng.IntN(65535)
		want.Addr = fmt.Sprintf("%s:%d", ip, port)
		if rng.IntN(4) == 0 && ip[0] == 'f' {
			want.Addr = fmt.Sprintf("[%s]:%d", ip, port)
		}
		line := fmt.Sprintf("ip=%s,port=%d,state=%s,offset=%d,lag=%d", ip, port, want.State, want.Offset, int(want.Lag.Seconds()))
		got := parseReplicaLine(line)
		if ip[0] == 'f' {
			want.Addr = fmt.Sprintf("[%s]:%d", ip, port)
		}
		if got != want {
			t.Fatalf("parseReplicaLine(%q) = %+v; want %+v", line, got, want)
		}
	}
	for _, junk := range []string{"", ",,,", "ip", "=,=", "offset=x,lag=-"} {
		_ = parseReplicaLine(junk) // never panics
	}
}
