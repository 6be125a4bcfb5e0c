// Command ch10 runs chapter 10's example, whose code is in ./ch10: count_visit over 16 sharded
// servers (10.2). It takes the tour's flags (-addr, -flush, ...; see examples/tour).
package main

import (
	"github.com/ria-go/ria/examples/ch10/ch10"
	"github.com/ria-go/ria/examples/internal/tour"
)

func main() { tour.Main(ch10.Parts...) }
