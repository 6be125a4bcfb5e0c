// Command ch04 runs chapter 4's examples: the marketplace (4.4), token updates with and without a
// pipeline (4.5), and the other chapter 4 parts.
package main

import "github.com/ria-go/ria/examples/chapters"

func main() { chapters.Main("ch04") }
