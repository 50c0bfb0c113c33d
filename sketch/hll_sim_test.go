package sketch

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// denseSim draws the register histogram of a dense sketch at precision p
// after n distinct uniformly random hashes, exactly (for a fixed n, not a
// Poisson one) and in about m+n/32 cheap steps instead of n insertions.
//
// An item's register is uniform over the m registers and its rank rho is
// independent of it, with P(rho >= k) = 2^-(k-1) for k <= q+1, q = 64-p
// (axiomhq caps rho at q+1). So the number of items with rho >= k+1 among
// those with rho >= k is Binomial(., 1/2), drawn as a popcount of random
// bits. A register's value is the largest rho among its items: going down
// from rho = q+1, the items of one rank fall on uniform registers, and each
// one that lands on a still empty register sets it. The number of items up to
// and including the next one to land on one of f empty registers is
// geometric with success probability f/m, so each register costs one
// exponential draw.
type denseSim struct {
	p     uint8
	m     int
	rate  []float64 // rate[f] = -ln(1 - f/m): geometric via an exponential
	level [66]uint64
}

func newDenseSim(p uint8) *denseSim {
	m := 1 << p
	s := &denseSim{p: p, m: m, rate: make([]float64, m+1)}
	for f := 1; f < m; f++ {
		s.rate[f] = -math.Log1p(-float64(f) / float64(m))
	}
	s.rate[m] = math.Inf(1)
	return s
}

// halfBinomial draws Binomial(n, 1/2).
func halfBinomial(rng *rand.Rand, n uint64) uint64 {
	var k uint64
	for ; n >= 64; n -= 64 {
		k += uint64(bits.OnesCount64(rng.Uint64()))
	}
	if n > 0 {
		k += uint64(bits.OnesCount64(rng.Uint64() & (1<<n - 1)))
	}
	return k
}

// draw fills c with the histogram after n items.
func (s *denseSim) draw(rng *rand.Rand, n uint64, c *[66]uint32) {
	*c = [66]uint32{}
	q := 64 - int(s.p)
	// level[k] = number of items with rho >= k.
	s.level[1] = n
	for k := 1; k <= q; k++ {
		s.level[k+1] = halfBinomial(rng, s.level[k])
	}
	f := s.m // empty registers
	for k := q + 1; k >= 1 && f > 0; k-- {
		b := s.level[k]
		if k <= q {
			b -= s.level[k+1]
		}
		// b items of rank exactly k.
		if float64(b) > float64(s.m)*(math.Log(float64(s.m))+45) {
			// P(some register stays empty) < m e^(-b/m) < e^-45.
			c[k] += uint32(f)
			f = 0
			break
		}
		for f > 0 && b > 0 {
			g := uint64(1)
			if f < s.m {
				g += uint64(rng.ExpFloat64() / s.rate[f])
			}
			if g > b {
				break
			}
			b -= g
			c[k]++
			f--
		}
	}
	c[0] = uint32(f)
}
