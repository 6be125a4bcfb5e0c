package tour

import (
	"math/rand/v2"

	"github.com/google/uuid"
)

// Sessions returns n session ids (UUIDs), about a third of them repeats of earlier ones: the same
// every run, so the visitor counts of chapters 9 and 10 can be checked.
func Sessions(n int) []string {
	r := rand.New(rand.NewPCG(9, 2))
	out := make([]string, 0, n)
	for len(out) < n {
		if len(out) > 0 && r.IntN(3) == 0 {
			out = append(out, out[r.IntN(len(out))])
			continue
		}
		id, _ := uuid.NewRandomFromReader(randReader{r})
		out = append(out, id.String())
	}
	return out
}

// randReader makes a seeded math/rand generator an io.Reader for uuid.
type randReader struct{ r *rand.Rand }

func (rr randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(rr.r.Uint32())
	}
	return len(p), nil
}
