// Command ch05 runs chapter 5's example, whose code is in ./ch05: service discovery and
// configuration through the connection registry (5.4). It takes the tour's flags (-addr, -flush,
// ...; see examples/tour).
package main

import (
	"github.com/ria-go/ria/examples/ch05/ch05"
	"github.com/ria-go/ria/examples/internal/tour"
)

func main() { tour.Main(ch05.Parts...) }
