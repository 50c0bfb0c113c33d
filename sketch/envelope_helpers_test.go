package sketch

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/streamstat/streamstat/internal/envelope"
)

// reseal recomputes the checksum of an edited encoding, so that tests reach
// the checks behind it.
func reseal(b []byte) []byte {
	end := len(b) - 4
	binary.LittleEndian.PutUint32(b[end:], crc32.Checksum(b[:end], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// envelopeOf returns a valid envelope of the given kind, shape and payload.
func envelopeOf(t testing.TB, kind uint8, shape [4]uint64, payload []byte) []byte {
	t.Helper()
	b, start := envelope.Begin(nil, envelope.Header{Kind: envelope.Kind(kind), HashID: envelope.HashXXH64, Shape: shape})
	return envelope.End(append(b, payload...), start)
}
