// Package testio holds readers that tests use to feed inputs the way
// pipes and slow devices do.
package testio

import (
	"io"
	"math/rand/v2"
)

// RandomReader returns data in reads of random sizes (some empty), drawn
// from rng: the same rng seed gives the same reads. It is not safe for
// concurrent use.
func RandomReader(data []byte, rng *rand.Rand) io.Reader {
	return &randomReader{data: data, rng: rng}
}

type randomReader struct {
	data []byte
	rng  *rand.Rand
}

func (r *randomReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(r.rng.IntN(len(p)+1), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}
