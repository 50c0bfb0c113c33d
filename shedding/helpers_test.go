package shedding

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// fillBatch resets b and fills it with n records of keys "k<i>" drawn
// from keys distinct keys by r (or the n keys from..from+n-1 if r is nil),
// hashed with sketch.Hash, each with Value = its key number.
func fillBatch(b *pipeline.Batch, n int, keys uint64, r *rand.Rand, from uint64) {
	b.Reset()
	var buf []byte
	for i := range n {
		k := from + uint64(i)
		if r != nil {
			k = r.Uint64N(keys)
		}
		buf = strconv.AppendUint(append(buf[:0], 'k'), k, 10)
		rec := b.AddHashed(buf, sketch.Hash(buf))
		rec.Value, rec.HasValue = float64(k), true
	}
}

// keptHashes returns the hashes left in b, in order.
func keptHashes(b *pipeline.Batch) []uint64 {
	out := make([]uint64, b.Len())
	for i := range b.Records {
		out[i] = b.Records[i].Hash
	}
	return out
}

var t0 = time.Unix(1_700_000_000, 0)

// clock is a fake clock for tests.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: t0} }
func pcg(seed uint64) *rand.Rand         { return rand.New(rand.NewPCG(seed, 0x5eed)) }
func fixed(policy Policy, p float64) Config {
	return Config{Policy: policy, Controller: ControllerConfig{Fixed: p}}
}
