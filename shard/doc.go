// Package shard spreads data over many keys and many Redis servers as Redis in Action does (9.2 and
// 10.2), and adds what Redis Cluster needs beyond go-redis's ClusterClient.
//
// # The book's sharding, bit-compatible
//
// Key is shard_key: a key of decimal digits goes to shard int(key) // shardSize, any other key to
// crc32(key) % (2*totalElements // shardSize); HSet, HGet and SAdd are shard_hset, shard_hget and
// shard_sadd (which hashes "x"+member). Index is the crc32 % n underneath, and ID is Key without the
// base.
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
// hash_test.go holds vectors computed with CPython for both. Which characters are digits for the
// book's isdigit()/int() follows Go's Unicode tables (Unicode 15): CPython 3.12 and later agree;
// 3.11 and earlier know fewer digits (Kawi, Nag Mundari) and refuse keys with them.
//
// Errata fixed: 2*totalElements < shardSize made the book divide by zero (now one shard); Python 3's
// isdigit() accepts non-decimal digits such as "²" that int() then rejects, so the book raised
// ValueError (here such keys are hashed); a numeric key too big for 64 bits is divided exactly with
// math/big, as Python's integers do. Every function that hashes a key (Index, Key, ID, Component,
// HSet, HGet, SAdd, Acquire, Call, the Wrap functions) returns ErrNotLatin1 rather than guess.
//
// # Sharded connections
//
// Component, Acquire, Call and Wrap..Wrap3 are the sharded connections of 10.2: crc32("x"+key) %
// shardCount picks the registry component "<component>:<n>" (ShardComponent), and the Wrap functions
// are the sharded_connection decorator.
//
// # Redis Cluster
//
// A conn component whose config is {"cluster": [...]} gets go-redis's ClusterClient, and code written
// against redis.Cmdable runs on it unchanged as long as each command's keys share a slot.
// CLUSTER.md maps redis-py-cluster's features to what go-redis provides. This package adds what our
// patterns need that go-redis lacks: Slot (the key's slot, hash tags included), MGet (a cross-slot
// MGET split by slot, which defers to go-redis's own split when the client has the dynamic command
// resolver), and Scan (SCAN over every master).
//
// Every call that does I/O takes ctx first and, once ctx has ended, fails with an error for which
// errors.Is(err, ctx.Err()) holds.
//
// Package hostset is rb's client for many independent hosts (routers, map / fanout, auto-batching);
// its Partition router hashes with Index.
package shard
