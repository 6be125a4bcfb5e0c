// Command tour runs every chapter's example in turn, on embedded miniredis servers by default.
//
//	go run ./examples/tour                         # embedded servers
//	go run ./examples/tour -addr 127.0.0.1:6379    # real servers (or RIA_REDIS_ADDR)
//	go run ./examples/tour -chapter ch04           # one chapter
package main

import "github.com/ria-go/ria/examples/chapters"

func main() { chapters.Main() }
