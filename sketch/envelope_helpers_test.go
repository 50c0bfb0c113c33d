package sketch

import (
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// envelopeOf returns a valid envelope of the given kind, shape and payload.
func envelopeOf(t testing.TB, kind uint8, shape [4]uint64, payload []byte) []byte {
	t.Helper()
	b, start := envelope.Begin(nil, envelope.Header{Kind: envelope.Kind(kind), HashID: envelope.HashXXH64, Shape: shape})
	return envelope.End(append(b, payload...), start)
}
