// Command tour runs every chapter's example in turn, on embedded miniredis servers by default.
//
//	go run ./examples/tour                         # embedded servers
//	go run ./examples/tour -addr 127.0.0.1:6379    # real servers (or RIA_REDIS_ADDR), databases 1 to 15
//	go run ./examples/tour -addr a:6379,b:6379     # several, round robin
//	go run ./examples/tour -addr ... -flush        # empty databases 1 to 15 that hold keys first
//	go run ./examples/tour -chapter ch04           # one chapter (as go run ./examples/ch04)
//
// On real servers it never touches database 0, and refuses databases 1 to 15 that hold keys unless
// -flush. Exit status: 0 done; 1 a chapter failed, or the servers were refused (a database not
// empty, unreachable, without databases 1 to 15); 2 bad usage (an unknown flag or chapter, an -addr
// entry that is not host:port, two addresses of one server).
package main

import (
	"slices"

	"github.com/ria-go/ria/examples/ch04/ch04"
	"github.com/ria-go/ria/examples/ch05/ch05"
	"github.com/ria-go/ria/examples/ch09/ch09"
	"github.com/ria-go/ria/examples/ch10/ch10"
	"github.com/ria-go/ria/examples/internal/tour"
)

// parts are every chapter's parts, in the book's order.
var parts = slices.Concat(ch04.Parts, ch05.Parts, ch09.Parts, ch10.Parts)

func main() { tour.Main(parts...) }
