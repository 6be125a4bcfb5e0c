// Package hostset routes commands over many independent Redis hosts, as rb ("the redis blaster")
// does for Python, on go-redis.
//
// rb calls this a Cluster; here it is Hosts, because it is a set of independent hosts with
// client-side routing, not a Redis Cluster: no slots, no replication, no failover. The name also
// keeps it apart from go-redis's ClusterClient and from redistest.Cluster, which are Redis Cluster.
// For Redis Cluster, use a conn component configured with {"cluster": [...]} and the helpers in
// package shard.
//
// Hosts have integer ids 0..n-1, each configured in conn's JSON form over shared defaults (New), or
// loaded from a conn.Registry as components "<name>:<id>" (FromRegistry). A Router maps a key to a
// host: Partition (rb's PartitionRouter, bit-compatible: rb sends "foo" to 1, "bar" to 2 and "baz" to
// 0 of 3 hosts; its crc32 is shard.Index in a shard.HashMode) or ConsistentHash (rb's ketama ring,
// weighted). A host config that turns TLS verification off is refused unless
// Options.AllowInsecureTLS is set.
//
//   - Routing is a go-redis client that sends each command to its key's host. It refuses, with an
//     error wrapping ErrUnroutable, commands it cannot send to one host (no key, more than one
//     distinct key even when they share a host, keys it cannot find, WATCH/MULTI/pub-sub), except
//     MGET, MSET, DEL, UNLINK, EXISTS and TOUCH, which it splits per host. The key of every Redis
//     7.0 command comes from its COMMAND key specifications, compiled into commands_table.go. A key
//     is hashed as the bytes go-redis writes for it (a float64 in plain decimal, a uuid.UUID as its
//     16 bytes, a bool as "1" or "0"), so HostForKey of that string names the key's host; an
//     argument go-redis cannot write is refused (ErrBadArg) before anything is sent.
//   - Map groups commands by host and sends one pipeline per host, hosts in parallel (at most
//     MaxConcurrency at a time, all within ctx); each go-redis Cmd holds its result when Map returns,
//     as rb's promises do. Auto-batching (on by default, AutoBatch(false) or NoAutoBatch to turn it
//     off) makes a run of consecutive GETs to one host a single MGET and of plain SETs a single MSET;
//     every original command still gets its own result: a batch the server refuses with a reply
//     error (an ACL key rule, OOM) is sent again command by command. One difference remains: a GET
//     of a key holding another type gets redis.Nil, as MGET answers nil there, not WRONGTYPE; turn
//     auto-batching off where that matters.
//   - Fanout and All send commands to chosen hosts or all of them; FanoutCmd returns one command's
//     results keyed by host id.
//   - Host, Acquire and ClientForKey give the client of one host, for anything else (transactions,
//     scripts over several keys of one host, SCAN).
//
// Every call that does I/O takes ctx first and, once ctx has ended, fails with an error for which
// errors.Is(err, ctx.Err()) holds, and so does each failed command of a pipeline (inside its
// *HostError too).
//
// A host that is down fails only the commands for its keys, with a *HostError naming the host; other
// hosts' results are intact, no key is ever sent to another host, and the same Hosts recovers when
// the host comes back (go-redis redials).
package hostset
