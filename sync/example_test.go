package sync_test

import (
	"context"
	"fmt"

	"github.com/ria-go/ria/redistest"
	riasync "github.com/ria-go/ria/sync"
)

// The examples start real redis-server processes: miniredis has no replication.

func ExampleWaitForSync() {
	ctx := context.Background()
	r, err := redistest.RunReplicated(ctx, nil) // a master and a replica, no AOF
	if err != nil {
		panic(err)
	}
	defer r.Close()
	master, replica := r.Master.NewClient(), r.Replica.NewClient()
	defer master.Close()
	defer replica.Close()

	master.Set(ctx, "order:1", "paid", 0)
	res, err := riasync.WaitForSync(ctx, master, replica, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("replica has it:", replica.Get(ctx, "order:1").Val())
	fmt.Println("on its disk:", res.Durable, "-", res.Note)
	// Output:
	// replica has it: paid
	// on its disk: false - replica has appendonly off: the write is in its memory only, not on its disk
}

func ExampleWaitReplicas() {
	ctx := context.Background()
	r, err := redistest.RunReplicated(ctx, nil)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	master := r.Master.NewClient()
	defer master.Close()

	master.Set(ctx, "order:2", "paid", 0)
	acks, err := riasync.WaitReplicas(ctx, master, &riasync.Options{Replicas: 1})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d of %d replicas acknowledged\n", acks.Replicas, acks.Wanted)
	// Output:
	// 1 of 1 replicas acknowledged
}

// Replacing a failed master (section 4.3.2): promote the replica, point a spare server at it.
func ExamplePromote() {
	ctx := context.Background()
	r, err := redistest.RunReplicated(ctx, nil)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	spare, err := redistest.Run(ctx, nil)
	if err != nil {
		panic(err)
	}
	defer spare.Close()
	a, b, c := r.Master.NewClient(), r.Replica.NewClient(), spare.NewClient()
	defer a.Close()
	defer b.Close()
	defer c.Close()

	a.Set(ctx, "users:17", "Frank", 0)
	if _, err := riasync.WaitForSync(ctx, a, b, nil); err != nil {
		panic(err)
	}
	r.Master.Kill() // machine A is gone

	ri, err := riasync.Promote(ctx, b, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("B is now a", ri.Role)
	ri, err = riasync.ReplicaOf(ctx, c, r.Replica.Addr(), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("C is a", ri.Role, "with link up:", ri.LinkUp)
	fmt.Println("C has users:17 =", c.Get(ctx, "users:17").Val())
	// Output:
	// B is now a master
	// C is a slave with link up: true
	// C has users:17 = Frank
}
