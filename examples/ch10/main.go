// Command ch10 runs chapter 10's example: sharded connections and count_visit over 16 servers
// (section 10.2).
package main

import "github.com/ria-go/ria/examples/chapters"

func main() { chapters.Main("ch10") }
