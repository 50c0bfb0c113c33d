package sampling

import (
	"encoding"
	"encoding/binary"
	"math"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// Helpers shared by the Reservoir, WeightedReservoir and KeySampler tests.
// Their names carry a "samp" prefix so they cannot collide with helpers of
// the other files in this package.

// sampEnvelope returns a valid envelope of the given kind, shape and payload.
func sampEnvelope(kind envelope.Kind, shape [4]uint64, payload []byte) []byte {
	b, start := envelope.Begin(nil, envelope.Header{Kind: kind, HashID: envelope.HashXXH64, Shape: shape})
	return envelope.End(append(b, payload...), start)
}

func sampMarshal(t testing.TB, m encoding.BinaryMarshaler) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampPayload builds a payload from uint64 words (little-endian) followed by
// raw bytes.
func sampPayload(words []uint64, raw ...byte) []byte {
	var b []byte
	for _, w := range words {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return append(b, raw...)
}

func sampWithByte(b []byte, i int, v byte) []byte {
	c := append([]byte(nil), b...)
	c[i] = v
	return c
}

// sampChiSquareSF returns P(X >= x) for X chi-square with df degrees of
// freedom: the regularized upper incomplete gamma function Q(df/2, x/2),
// by its power series below a+1 and its continued fraction (modified Lentz)
// above (Numerical Recipes, 3rd ed., section 6.2, eqs. 6.2.5 and 6.2.7).
// Accurate to ~1e-12 relative for the df and x the tests use.
func sampChiSquareSF(x float64, df int) float64 {
	a, z := float64(df)/2, x/2
	if z <= 0 {
		return 1
	}
	lg, _ := math.Lgamma(a)
	prefix := math.Exp(-z + a*math.Log(z) - lg)
	if z < a+1 {
		// P(a, z) = e^-z z^a / Gamma(a+1) * sum z^n / ((a+1)...(a+n))
		sum, term := 1/a, 1/a
		for n := 1; n < 100000; n++ {
			term *= z / (a + float64(n))
			sum += term
			if term < sum*1e-16 {
				break
			}
		}
		return 1 - prefix*sum
	}
	const tiny = 1e-300
	b := z + 1 - a
	c, d := 1/tiny, 1/b
	h := d
	for i := 1; i < 100000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	return prefix * h
}

// sampChiSquare returns the chi-square statistic of observed counts against
// expected ones.
func sampChiSquare(observed []int, expected []float64) float64 {
	var x float64
	for i, o := range observed {
		d := float64(o) - expected[i]
		x += d * d / expected[i]
	}
	return x
}
