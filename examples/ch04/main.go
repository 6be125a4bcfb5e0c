// Command ch04 runs chapter 4's examples, whose code is in ./ch04: resumable log processing (4.1.1),
// replication and replacing a failed master (4.1-4.3), the marketplace (4.4) and token updates with
// and without a pipeline (4.5). It takes the tour's flags (-addr, -flush, ...; see examples/tour).
package main

import (
	"github.com/ria-go/ria/examples/ch04/ch04"
	"github.com/ria-go/ria/examples/internal/tour"
)

func main() { tour.Main(ch04.Parts...) }
