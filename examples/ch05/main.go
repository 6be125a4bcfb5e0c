// Command ch05 runs chapter 5's example: the connection registry (section 5.4).
package main

import "github.com/ria-go/ria/examples/chapters"

func main() { chapters.Main("ch05") }
