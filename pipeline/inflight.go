package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/streamstat/streamstat/internal/envelope"
)

// appendBatch encodes the records of b after dst: per record the key, hash,
// value, time, keep probability and flags. Unaligned checkpoints store the
// batches in flight this way.
func appendBatch(dst []byte, b *Batch) []byte {
	for i := range b.Records {
		r := &b.Records[i]
		key := b.Key(i)
		dst = binary.AppendUvarint(dst, uint64(len(key)))
		dst = append(dst, key...)
		dst = binary.LittleEndian.AppendUint64(dst, r.Hash)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.Value))
		dst = binary.AppendVarint(dst, r.Time)
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(r.KeepP))
		var flags byte
		if r.HasValue {
			flags = 1
		}
		dst = append(dst, flags)
	}
	return dst
}

// decodeBatches reads what appendBatch wrote into batches of at most size
// records.
func decodeBatches(data []byte, size int) ([]*Batch, error) {
	var out []*Batch
	r := envelope.NewReader(data)
	b := new(Batch)
	for r.Len() > 0 && r.Err == nil {
		if err := decodeRecord(r, b); err != nil {
			return nil, err
		}
		if b.Len() >= size {
			out = append(out, b)
			b = new(Batch)
		}
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("pipeline: in-flight records: %w", err)
	}
	if b.Len() > 0 {
		out = append(out, b)
	}
	return out, nil
}

// decodeRecord reads one record appendBatch wrote into b; a truncated
// input shows in r.Err.
func decodeRecord(r *envelope.Reader, b *Batch) error {
	n := r.Uvarint()
	if n > uint64(r.Len()) {
		return fmt.Errorf("pipeline: in-flight record key of %d bytes: %w", n, envelope.ErrCorrupt)
	}
	key := r.Bytes(int(n))
	rec := b.AddHashed(key, r.U64())
	rec.Value = math.Float64frombits(r.U64())
	rec.Time = r.Varint()
	rec.KeepP = math.Float32frombits(r.U32())
	flags := r.U8()
	if flags > 1 {
		return fmt.Errorf("pipeline: in-flight record flags %#x: %w", flags, envelope.ErrCorrupt)
	}
	rec.HasValue = flags == 1
	return nil
}

// replay processes the in-flight batches an unaligned checkpoint stored for
// this task, before anything new: they were in the channels when the
// snapshot was taken.
func (t *task) replay(ctx context.Context) error {
	batches := t.p.replay[partName("inflight", t.stages[0], t.idx)]
	for _, b := range batches {
		if err := t.process(ctx, b, flushFull); err != nil {
			return err
		}
	}
	return nil
}

// isInflight reports whether a part name is an in-flight log.
func isInflight(name string) bool { return strings.HasPrefix(name, "inflight-") }
