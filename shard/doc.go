// Package shard spreads data over many keys and many Redis servers: the book's sharding functions
// (Redis in Action 9.2 and 10.2), an rb-style cluster of independent hosts, and what Redis Cluster
// needs beyond go-redis's ClusterClient.
//
// # The book's sharding, bit-compatible
//
// Key is shard_key: a key of decimal digits goes to shard int(key) // shardSize, any other key to
// crc32(key) % (2*totalElements // shardSize); HSet, HGet and SAdd are shard_hset, shard_hget and
// shard_sadd (which hashes "x"+member). Component, Acquire, Call and Wrap..Wrap3 are the sharded
// connections of 10.2: crc32("x"+key) % shardCount picks the registry component "<component>:<n>",
// and the Wrap functions are the sharded_connection decorator.
//
// Two hash modes reproduce the two reference implementations. Python3, the default for the book's
// functions, is the book's Python 3 code: shard_key hashes a str key's latin-1 encoding with the
// unsigned binascii.crc32, so "héllo" is shard 289 of 1000 elements in shards of 3, and a key with a
// character above U+00FF (or a Go string that is not valid UTF-8) fails with ErrNotLatin1 where
// Python raises UnicodeEncodeError. Python2 is the printed book under Python 2 and rb's
// PartitionRouter on every Python: the key's UTF-8 bytes, as rb encodes text, with a signed crc32
// and floor modulo ("héllo" is shard 214). For ASCII keys the modes agree when the shard count is a
// power of two, as in count_visit (its expected sizes are powers of two) and the book's 16 servers,
// and differ otherwise: for 3 shards, "foo" is shard 2 in Python3 mode and 1 in Python2 mode.
// hash_test.go holds vectors computed with CPython for both.
//
// Errata fixed: 2*totalElements < shardSize made the book divide by zero (now one shard); Python 3's
// isdigit() accepts non-decimal digits such as "²" that int() then rejects, so the book raised
// ValueError (here such keys are hashed); a numeric key too big for 64 bits is divided exactly with
// math/big, as Python's integers do. Every function that hashes a key (Index, Key, ID, Component,
// HSet, HGet, SAdd, Acquire, Call, the Wrap functions, a Python3 Partition) returns ErrNotLatin1
// rather than guess.
//
// # An rb-style cluster
//
// Cluster is rb's Cluster ("the redis blaster", non-replicated sharding) on go-redis: hosts by integer
// id 0..n-1, each configured in conn's JSON form over shared defaults (New), or loaded from a
// conn.Registry as components "<name>:<id>" (FromRegistry). A Router maps a key to a host: Partition
// (rb's PartitionRouter, bit-compatible: rb sends "foo" to 1, "bar" to 2 and "baz" to 0 of 3 hosts)
// or ConsistentHash (rb's ketama ring, weighted). A host config that turns TLS verification off is
// refused unless Options.AllowInsecureTLS is set.
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
// hosts' results are intact, no key is ever sent to another host, and the same Cluster recovers when
// the host comes back (go-redis redials).
//
// # Redis Cluster
//
// A conn component whose config is {"cluster": [...]} gets go-redis's ClusterClient, and code written
// against redis.Cmdable runs on it unchanged as long as each command's keys share a slot.
// CLUSTER.md maps redis-py-cluster's features to what go-redis provides. This package adds what our
// patterns need that go-redis lacks: Slot (the key's slot, hash tags included), MGet (a cross-slot
// MGET split by slot, which defers to go-redis's own split when the client has the dynamic command
// resolver), and Scan (SCAN over every master).
package shard
