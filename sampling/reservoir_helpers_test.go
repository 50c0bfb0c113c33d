package sampling

import (
	"encoding"
	"encoding/binary"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/internal/gamma"
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
// freedom: the regularized upper incomplete gamma function Q(df/2, x/2).
func sampChiSquareSF(x float64, df int) float64 {
	return gamma.Q(float64(df)/2, x/2)
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
