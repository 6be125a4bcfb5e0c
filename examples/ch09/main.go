// Command ch09 runs chapter 9's example: sharded hashes and sets, count_visit on one server, and the
// memory each element takes (section 9.2).
package main

import "github.com/ria-go/ria/examples/chapters"

func main() { chapters.Main("ch09") }
