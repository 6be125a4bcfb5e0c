// Command ch09 runs chapter 9's example, whose code is in ./ch09: sharded hashes and sets, and the
// memory they save (9.2). It takes the tour's flags (-addr, -flush, ...; see examples/tour).
package main

import (
	"github.com/ria-go/ria/examples/ch09/ch09"
	"github.com/ria-go/ria/examples/internal/tour"
)

func main() { tour.Main(ch09.Parts...) }
