package shedding

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/sketch"
)

// scaleTopK multiplies every count and error of t, and its total, by
// 2^shift, through its encoding (sketch.TopK's, documented in package
// sketch), leaving t exactly as shift merges of t with itself leave it:
// the entries by count, and within a count by key bytes, the order a merge
// queues them in. It takes one sort of the entries, not shift of them (16
// merges of a TopK of capacity 16384, top --shed's at the default
// precision, took 12-30 ms, at every answer of a run that shed anything).
// It reports false, leaving t as it was, if a count would overflow.
func scaleTopK(t *sketch.TopK, shift uint) bool {
	enc, err := t.MarshalBinary()
	if err != nil {
		return false
	}
	hdr, payload, err := envelope.Decode(enc, envelope.KindTopK)
	if err != nil || bits.LeadingZeros64(hdr.Shape[2]) < int(shift) {
		return false // the total bounds every count and error
	}
	type entry struct {
		key        []byte
		count, err uint64
	}
	es := make([]entry, 0, hdr.Shape[1])
	for range hdr.Shape[1] {
		n, w := binary.Uvarint(payload)
		if w <= 0 || n > uint64(len(payload)-w) {
			return false
		}
		e := entry{key: payload[w : w+int(n)]}
		payload = payload[w+int(n):]
		if e.count, w = binary.Uvarint(payload); w <= 0 {
			return false
		}
		payload = payload[w:]
		if e.err, w = binary.Uvarint(payload); w <= 0 {
			return false
		}
		payload = payload[w:]
		es = append(es, e)
	}
	if len(payload) != 0 {
		return false
	}
	// Listed by decreasing count already: a merge queues ties by key.
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j].count == es[i].count {
			j++
		}
		slices.SortFunc(es[i:j], func(a, b entry) int { return bytes.Compare(a.key, b.key) })
		i = j
	}
	hdr.Shape[2] <<= shift
	out, start := envelope.Begin(make([]byte, 0, len(enc)+len(es)*3), hdr)
	for _, e := range es {
		out = binary.AppendUvarint(out, uint64(len(e.key)))
		out = append(out, e.key...)
		out = binary.AppendUvarint(out, e.count<<shift)
		out = binary.AppendUvarint(out, e.err<<shift)
	}
	return t.UnmarshalBinary(envelope.End(out, start)) == nil
}
