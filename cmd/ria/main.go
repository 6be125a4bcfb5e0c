// Command ria is the operator's tool for a deployment of ria's patterns (Redis in Action): it checks
// connection configs before publishing them, explains where a key is routed under every sharding
// scheme, shows the shards' health and the patterns' state.
//
//	ria [global flags] COMMAND [flags] [args]
//
//	ria config list                     components, kinds, addresses (secrets masked)
//	ria config get C                    the stored JSON (secrets masked)
//	ria config set C JSON|@file|@-      validate, PING the target, show the change, write
//	ria config check [C...]             parse and PING every stored config (or the ones named)
//	ria config rm C                     remove a config (asks first, or --yes)
//	ria route KEY                       the key's shard, host, component and slot under every scheme
//	ria shards status COMPONENT         each shard's address, role, round trip, memory, keys, trouble
//	ria visits count|recount            a day's unique visitors (10.2.2)
//	ria market ls | market user ID      cheapest listings, a user's funds and inventory (4.4)
//	ria logs progress                   where log processing stands (4.1.1)
//	ria sync status MASTER REPLICA      replication link, offsets, AOF (4.2, 4.3)
//
// The config Redis is --config (a redis:// or rediss:// URL, or host:port), else $RIA_CONFIG_URL,
// else redis://localhost:6379. Output is a table, or one JSON document with --json. Passwords and
// user names are masked unless --show-secrets is given. Every command's I/O ends within --timeout,
// except the wait for `ria config rm`'s answer, which has its own --answer-timeout (a minute).
// Count flags have bounds, given in their help (route --hosts 1 to 10000, say).
//
// A table cell, or a "name  value" line, that holds a control or other non-printable character or
// invalid UTF-8 (text from Redis can) is shown double-quoted with \xHH escapes, as redis-cli shows
// and reads it; so is one that begins with a double quote. With --json, a string that is not valid
// UTF-8, or that begins with a double quote, is written in that quoted form (JSON would turn each
// bad byte into U+FFFD); any other string is written as it is.
//
// Exit status: 0 success; 1 a check failed or the command could not do its work (the message says
// what, and what to do); 2 bad usage (unknown command or flag, wrong arguments, a count out of its
// bounds). `ria config rm` without --yes reads the answer from standard input: anything but "y" or
// "yes" (in any case), or no input at all, refuses with status 1 and removes nothing.
//
// Run `ria help` for every command and flag with its default, `ria help COMMAND` for one.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
