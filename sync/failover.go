package sync

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// ReplicationInfo is a server's INFO replication, parsed.
type ReplicationInfo struct {
	Role       string // "master" or "slave" (INFO's word for a replica)
	MasterHost string // a replica's master
	MasterPort int
	LinkUp     bool  // master_link_status:up
	Syncing    bool  // master_sync_in_progress:1: a full sync is running
	Replicas   int   // connected_slaves
	Offset     int64 // master_repl_offset
}

// Replication reads c's INFO replication.
func Replication(ctx context.Context, c redis.Cmdable) (_ ReplicationInfo, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if c == nil {
		return ReplicationInfo{}, fmt.Errorf("%w: nil client", ErrBadInput)
	}
	m, err := info(ctx, c, "replication")
	if err != nil {
		return ReplicationInfo{}, fmt.Errorf("sync: INFO replication: %w", err)
	}
	return parseReplication(m), nil
}

func parseReplication(m map[string]string) ReplicationInfo {
	return ReplicationInfo{
		Role:       m["role"],
		MasterHost: m["master_host"],
		MasterPort: int(infoInt(m, "master_port")),
		LinkUp:     m["master_link_status"] == "up",
		Syncing:    m["master_sync_in_progress"] == "1",
		Replicas:   int(infoInt(m, "connected_slaves")),
		Offset:     infoInt(m, "master_repl_offset"),
	}
}

// Promote turns a replica into a master (REPLICAOF NO ONE), keeping its data: the first half of
// replacing a failed master (section 4.3.2). Writers must then be pointed at it, for instance by
// changing the component's config in the registry. Promoting a master is a no-op. Once Timeout or
// ctx's deadline has passed, or ctx is cancelled, the error wraps the context's error.
func Promote(ctx context.Context, c redis.Cmdable, opt *Options) (_ ReplicationInfo, err error) {
	if c == nil {
		return ReplicationInfo{}, fmt.Errorf("%w: nil client", ErrBadInput)
	}
	o, err := options(opt)
	if err != nil {
		return ReplicationInfo{}, err
	}
	ctx, cancel := withTimeout(ctx, &o)
	defer cancel()
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if err := c.ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		return ReplicationInfo{}, fmt.Errorf("sync: REPLICAOF NO ONE: %w", err)
	}
	ri, err := Replication(ctx, c)
	if err != nil {
		return ri, err
	}
	if ri.Role != "master" {
		return ri, fmt.Errorf("sync: after REPLICAOF NO ONE the server reports role:%s", ri.Role)
	}
	return ri, nil
}

// ReplicaOf points c at a new master (REPLICAOF host port; the book's SLAVEOF in listing 4.4) and waits
// until its link is up and the full sync is done. c's data is replaced by the master's. It returns
// ErrNotSynced when Timeout or ctx's deadline passes first, or ctx is cancelled (wrong address, master
// needing a password c does not have, a server that does not answer, ...), wrapping the cause and the
// context's error.
func ReplicaOf(ctx context.Context, c redis.Cmdable, masterAddr string, opt *Options) (_ ReplicationInfo, err error) {
	if c == nil {
		return ReplicationInfo{}, fmt.Errorf("%w: nil client", ErrBadInput)
	}
	host, portStr, err := net.SplitHostPort(masterAddr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || host == "" || perr != nil || port < 1 || port > 65535 {
		return ReplicationInfo{}, fmt.Errorf("%w: master address %q is not host:port", ErrBadInput, masterAddr)
	}
	o, err := options(opt)
	if err != nil {
		return ReplicationInfo{}, err
	}
	ctx, cancel := withTimeout(ctx, &o)
	defer cancel()
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if err := c.ReplicaOf(ctx, host, strconv.Itoa(port)).Err(); err != nil {
		return ReplicationInfo{}, deadlineErr(ctx, ErrNotSynced, fmt.Sprintf("REPLICAOF %s %d", host, port), err)
	}
	var ri ReplicationInfo
	start := time.Now()
	err = poll(ctx, o.Poll, func() (bool, error) {
		m, err := info(ctx, c, "replication")
		if err != nil {
			return false, err
		}
		ri = parseReplication(m)
		return ri.Role == "slave" && ri.MasterHost == host && ri.MasterPort == port && ri.LinkUp && !ri.Syncing, nil
	})
	if err != nil {
		if !noretry.Ended(ctx) {
			return ri, fmt.Errorf("sync: REPLICAOF %s %d: %w", host, port, err)
		}
		link := "down"
		if ri.LinkUp {
			link = "up, full sync running"
		}
		return ri, fmt.Errorf("%w: REPLICAOF %s %d: link %s after %v: %w", ErrNotSynced, host, port,
			link, time.Since(start).Round(time.Millisecond), err)
	}
	return ri, nil
}
