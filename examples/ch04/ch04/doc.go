// Package ch04 is chapter 4 of Redis in Action, "Keeping data safe and ensuring performance", on
// ria: resumable log processing (logs.go), replication and replacing a failed master, with the
// market's durable mode on that master and replica (sync.go), the marketplace with WATCH/MULTI/EXEC
// and its opt-in cluster layout (market.go, race.go) and pipelined token updates (tokens.go).
//
// Run it with `go run ./examples/ch04`; the tour (examples/tour) runs it among the others.
package ch04

import "github.com/ria-go/ria/examples/internal/tour"

// Parts are the chapter's parts in order.
var Parts = []tour.Part{
	{Chapter: "ch04", Title: "4.1.1 Snapshots and process_logs: resumable log processing", Run: Logs},
	{Chapter: "ch04", Title: "4.1-4.3 Persistence, replication, wait_for_sync and replacing a failed master", Run: Sync},
	{Chapter: "ch04", Title: "4.4 Transactions: the marketplace (WATCH/MULTI/EXEC, and one Lua script)", Run: Market},
	{Chapter: "ch04", Title: "4.5 Non-transactional pipelines: update_token", Run: Tokens},
}
