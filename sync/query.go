package sync

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// Read-only views of a server's replication and persistence, for operators: they write nothing.

// ReplicationState is ReplicationInfo with what tells a healthy link from a broken one.
type ReplicationState struct {
	ReplicationInfo
	ReplID        string         // master_replid: a replica that follows a master shares its id
	LinkDownSince time.Duration  // a replica whose link is down: master_link_down_since_seconds
	LastIO        time.Duration  // a replica: master_last_io_seconds_ago (-1 s when never)
	Links         []ReplicaState // a master: its connected replicas (INFO's slave<n> lines)
}

// ReplicaState is one replica as its master sees it.
type ReplicaState struct {
	Addr   string        // ip:port the replica announced
	State  string        // "online", "wait_bgsave", "send_bulk"
	Offset int64         // the replica's acknowledged offset
	Lag    time.Duration // seconds since its last acknowledgement
}

// ReadReplication reads c's INFO replication in full.
func ReadReplication(ctx context.Context, c redis.Cmdable) (_ ReplicationState, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if c == nil {
		return ReplicationState{}, fmt.Errorf("%w: nil client", ErrBadInput)
	}
	m, err := info(ctx, c, "replication")
	if err != nil {
		return ReplicationState{}, fmt.Errorf("sync: INFO replication: %w", err)
	}
	st := ReplicationState{
		ReplicationInfo: parseReplication(m),
		ReplID:          m["master_replid"],
		LastIO:          time.Duration(infoInt(m, "master_last_io_seconds_ago")) * time.Second,
	}
	if v, ok := m["master_link_down_since_seconds"]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			st.LinkDownSince = time.Duration(n) * time.Second
		}
	}
	for i := 0; ; i++ {
		v, ok := m["slave"+strconv.Itoa(i)]
		if !ok {
			break
		}
		st.Links = append(st.Links, parseReplicaLine(v))
	}
	return st, nil
}

// parseReplicaLine reads "ip=127.0.0.1,port=6380,state=online,offset=42,lag=0".
func parseReplicaLine(v string) ReplicaState {
	kv := map[string]string{}
	for _, part := range strings.Split(v, ",") {
		if k, val, ok := strings.Cut(part, "="); ok {
			kv[k] = val
		}
	}
	r := ReplicaState{State: kv["state"], Offset: infoInt(kv, "offset"), Lag: time.Duration(infoInt(kv, "lag")) * time.Second}
	if kv["ip"] != "" {
		r.Addr = kv["ip"] + ":" + kv["port"]
		if strings.Contains(kv["ip"], ":") {
			r.Addr = "[" + kv["ip"] + "]:" + kv["port"]
		}
	}
	return r
}

// Persistence is a server's INFO persistence, parsed, with its appendfsync.
type Persistence struct {
	Loading bool // loading: the server is loading its data set

	AOF             bool   // aof_enabled
	AOFRewriting    bool   // aof_rewrite_in_progress, or a rewrite scheduled
	AOFLastWrite    string // aof_last_write_status: "ok" or "err"
	AOFLastRewrite  string // aof_last_bgrewrite_status: "ok" or "err"
	AOFPendingFsync int64  // aof_pending_bio_fsync (AOF on only)
	AOFSize         int64  // aof_current_size (AOF on only)
	Fsync           string // appendfsync: always, everysec, no; "" if CONFIG GET is not allowed

	RDBSaving   bool      // rdb_bgsave_in_progress
	RDBLastSave string    // rdb_last_bgsave_status: "ok" or "err"
	RDBChanges  int64     // rdb_changes_since_last_save
	LastSave    time.Time // rdb_last_save_time
}

// OK reports whether the last AOF write and rewrite and the last save succeeded.
func (p Persistence) OK() bool {
	return p.AOFLastWrite != "err" && p.AOFLastRewrite != "err" && p.RDBLastSave != "err"
}

// ReadPersistence reads c's INFO persistence, and its appendfsync when CONFIG GET is allowed (a
// refusal leaves Fsync empty; any other failure is an error).
func ReadPersistence(ctx context.Context, c redis.Cmdable) (_ Persistence, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	if c == nil {
		return Persistence{}, fmt.Errorf("%w: nil client", ErrBadInput)
	}
	m, err := info(ctx, c, "persistence")
	if err != nil {
		return Persistence{}, fmt.Errorf("sync: INFO persistence: %w", err)
	}
	p := Persistence{
		Loading:         m["loading"] == "1",
		AOF:             m["aof_enabled"] == "1",
		AOFRewriting:    m["aof_rewrite_in_progress"] == "1" || m["aof_rewrite_scheduled"] == "1",
		AOFLastWrite:    m["aof_last_write_status"],
		AOFLastRewrite:  m["aof_last_bgrewrite_status"],
		AOFPendingFsync: infoInt(m, "aof_pending_bio_fsync"),
		AOFSize:         infoInt(m, "aof_current_size"),
		RDBSaving:       m["rdb_bgsave_in_progress"] == "1",
		RDBLastSave:     m["rdb_last_bgsave_status"],
		RDBChanges:      infoInt(m, "rdb_changes_since_last_save"),
	}
	if t := infoInt(m, "rdb_last_save_time"); t > 0 {
		p.LastSave = time.Unix(t, 0)
	}
	cfg, err := c.ConfigGet(ctx, "appendfsync").Result()
	switch {
	case err == nil:
		p.Fsync = cfg["appendfsync"]
	case !noretry.IsErrorReply(err):
		return p, fmt.Errorf("sync: CONFIG GET appendfsync: %w", err)
	}
	return p, nil
}
