package job

// A worker's checkpointed state (pipeline.StatefulSource): its line
// counters and what is left of its share of the inputs, as items.

import (
	"encoding/binary"
	"fmt"

	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/sketch"
)

// stateVersion is the first byte of a worker's state. Versions 1 and 2
// were a prefix of the operator's part of the checkpoint (countedOp,
// before sources had state), with the position apart: such checkpoints
// are refused with ErrOtherJob (see checkOldFormat).
const stateVersion = 3

// itemKind says what an item of a worker's share is.
type itemKind byte

const (
	// itemRange: lines starting in [start, end) of a file.
	itemRange itemKind = 1
	// itemStream: the worker's view of a stream, from view offset pos
	// on; sum is the XXH64 of the view's bytes before pos.
	itemStream itemKind = 2
	// itemDrain: a stream the worker has finished: its view is read and
	// discarded (so that the stream's reader is never held up by this
	// worker), and its hash checked against sum.
	itemDrain itemKind = 3
)

// item is a part of a worker's share of the inputs. A worker reads its
// items in order, which is input order.
type item struct {
	kind       itemKind
	k          int   // input index
	start, end int64 // itemRange
	pos        int64 // itemStream
	sum        uint64
	size       int64   // itemStream, itemDrain: the chunk size of the dealing
	layers     []layer // itemStream, itemDrain: the earlier dealings (see filter)
}

// workerState is a worker's state at a checkpoint barrier.
type workerState struct {
	c     Counts
	items []item
}

// appendWorkerState appends st: the version, the counters as uvarints,
// the number of items, then each item: its kind and input, then a range's
// start and end, or a stream's chunk size, position (itemStream), hash (8
// bytes little-endian) and layers, each its chunk size, number of workers
// and per worker its position+1 (0: all of its view) and hash.
func appendWorkerState(dst []byte, st workerState) []byte {
	dst = append(dst, stateVersion)
	c := st.c
	for _, v := range []uint64{c.Records, c.Skipped, c.Bad, c.Bytes, uint64(len(st.items))} {
		dst = binary.AppendUvarint(dst, v)
	}
	for _, it := range st.items {
		dst = append(dst, byte(it.kind))
		dst = binary.AppendUvarint(dst, uint64(it.k))
		if it.kind == itemRange {
			dst = binary.AppendUvarint(dst, uint64(it.start))
			dst = binary.AppendUvarint(dst, uint64(it.end))
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(it.size))
		if it.kind == itemStream {
			dst = binary.AppendUvarint(dst, uint64(it.pos))
		}
		dst = binary.LittleEndian.AppendUint64(dst, it.sum)
		dst = binary.AppendUvarint(dst, uint64(len(it.layers)))
		for _, l := range it.layers {
			dst = binary.AppendUvarint(dst, uint64(l.size))
			dst = binary.AppendUvarint(dst, uint64(len(l.pos)))
			for i, p := range l.pos {
				dst = binary.AppendUvarint(dst, uint64(p+1))
				dst = binary.LittleEndian.AppendUint64(dst, l.sums[i])
			}
		}
	}
	return dst
}

// maxOffset bounds offsets and sizes in a state: 2^62, so that sums of
// two never overflow.
const maxOffset = 1 << 62

// decodeWorkerState reads what appendWorkerState wrote, in time linear in
// len(data): every count is checked against the bytes left before
// anything is allocated for it.
func decodeWorkerState(data []byte) (workerState, error) {
	var st workerState
	if len(data) == 0 {
		return st, fmt.Errorf("worker state: empty: %w", sketch.ErrTruncated)
	}
	if data[0] != stateVersion {
		return st, fmt.Errorf("worker state: version %d, not %d: %w", data[0], stateVersion, sketch.ErrVersion)
	}
	r := envelope.NewReader(data[1:])
	c := &st.c
	for _, v := range []*uint64{&c.Records, &c.Skipped, &c.Bad, &c.Bytes} {
		*v = r.MinimalUvarint()
	}
	n := r.MinimalUvarint()
	if r.Err == nil && n > uint64(r.Len()/3) {
		return st, fmt.Errorf("worker state: %d items in %d bytes: %w", n, r.Len(), sketch.ErrCorrupt)
	}
	off := func() int64 {
		v := r.MinimalUvarint()
		if v > maxOffset && r.Err == nil {
			r.Err = fmt.Errorf("offset %d: %w", v, sketch.ErrCorrupt)
		}
		return int64(v)
	}
	for range n {
		if r.Err != nil {
			break
		}
		it := item{kind: itemKind(r.U8())}
		k := r.MinimalUvarint()
		if k > maxInput && r.Err == nil {
			r.Err = fmt.Errorf("input %d: %w", k, sketch.ErrCorrupt)
		}
		it.k = int(min(k, maxInput))
		switch it.kind {
		case itemRange:
			it.start, it.end = off(), off()
			if r.Err == nil && it.start > it.end {
				r.Err = fmt.Errorf("range [%d, %d): %w", it.start, it.end, sketch.ErrCorrupt)
			}
		case itemStream, itemDrain:
			it.size = off()
			if it.kind == itemStream {
				it.pos = off()
			}
			it.sum = r.U64()
			it.layers = decodeLayers(r)
		default:
			if r.Err == nil {
				r.Err = fmt.Errorf("item kind %d: %w", it.kind, sketch.ErrCorrupt)
			}
		}
		if r.Err == nil && it.kind != itemRange && it.size < 2 {
			r.Err = fmt.Errorf("chunk size %d: %w", it.size, sketch.ErrCorrupt)
		}
		if k := len(st.items); r.Err == nil && k > 0 && st.items[k-1].k > it.k {
			r.Err = fmt.Errorf("items out of input order: %w", sketch.ErrCorrupt)
		}
		st.items = append(st.items, it)
	}
	if r.Err == nil && r.Len() != 0 {
		r.Err = fmt.Errorf("%d bytes past the end: %w", r.Len(), sketch.ErrCorrupt)
	}
	if r.Err != nil {
		return workerState{}, fmt.Errorf("worker state: %w", r.Err)
	}
	if c.Skipped > c.Records || c.Bad > c.Records {
		return workerState{}, fmt.Errorf("worker state: %d skipped or %d bad of %d records: %w", c.Skipped, c.Bad, c.Records, sketch.ErrCorrupt)
	}
	return st, nil
}

// decodeLayers reads an item's layers (see appendWorkerState).
func decodeLayers(r *envelope.Reader) []layer {
	n := r.MinimalUvarint()
	if r.Err != nil || n > uint64(r.Len()/2) {
		if r.Err == nil {
			r.Err = fmt.Errorf("%d layers in %d bytes: %w", n, r.Len(), sketch.ErrCorrupt)
		}
		return nil
	}
	var ls []layer
	for range n {
		l := layer{size: int64(r.MinimalUvarint())}
		w := r.MinimalUvarint()
		if r.Err != nil || w == 0 || w > uint64(r.Len()/9) || l.size < 2 || l.size > maxOffset {
			if r.Err == nil {
				r.Err = fmt.Errorf("layer of %d workers, chunk size %d: %w", w, l.size, sketch.ErrCorrupt)
			}
			return nil
		}
		for range w {
			p := r.MinimalUvarint()
			if p > maxOffset && r.Err == nil {
				r.Err = fmt.Errorf("layer position %d: %w", p, sketch.ErrCorrupt)
			}
			l.pos = append(l.pos, int64(p)-1)
			l.sums = append(l.sums, r.U64())
		}
		ls = append(ls, l)
	}
	return ls
}
