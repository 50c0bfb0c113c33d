package sampling

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// The samplers draw straight from a math/rand/v2 PCG held by value: no
// rand.Rand wrapper, so no allocation and no interface call on the hot path,
// and the generator's 128-bit state is two words that the encodings store.
// The draws below are written out here, not taken from rand.Rand, so that the
// sequence a seed produces is fixed by this package and not by the standard
// library's choice of algorithm for Float64 or IntN.

// uniform returns a float64 uniform on the open interval (0, 1): 52 random
// bits plus one half, so neither 0 (log would be -Inf) nor 1 (log would be 0)
// can occur.
func uniform(g *rand.PCG) float64 {
	return (float64(g.Uint64()>>12) + 0.5) * 0x1p-52
}

// boundedN returns a uniform integer in [0, n), n > 0, by Lemire's
// multiply-and-reject method ("Fast random integer generation in an
// interval", ACM TOMACS 2019, Algorithm 5): unbiased, and almost always one
// draw and one multiplication.
func boundedN(g *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(g.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(g.Uint64(), n)
		}
	}
	return hi
}

// pcgState returns the generator's state as two words (hi, lo), read from
// its documented binary form "pcg:" + big-endian hi + big-endian lo.
func pcgState(g *rand.PCG) (hi, lo uint64) {
	var buf [20]byte
	b, _ := g.AppendBinary(buf[:0]) // cannot fail
	return binary.BigEndian.Uint64(b[4:]), binary.BigEndian.Uint64(b[12:])
}

// pcgRestore sets g to the state pcgState returned, through the documented
// UnmarshalBinary, so a restored generator continues exactly where the saved
// one stopped.
func pcgRestore(g *rand.PCG, hi, lo uint64) {
	var buf [20]byte
	b := append(buf[:0], "pcg:"...)
	b = binary.BigEndian.AppendUint64(b, hi)
	b = binary.BigEndian.AppendUint64(b, lo)
	_ = g.UnmarshalBinary(b) // cannot fail: the form is exactly what it wants
}

// seedPCG seeds a generator from one user seed. The second PCG word is a
// fixed constant per sampler kind, so equal seeds in different samplers do
// not give them the same sequence.
func seedPCG(g *rand.PCG, seed, stream uint64) { g.Seed(seed, stream) }
