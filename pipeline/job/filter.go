package job

import (
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/streamstat/streamstat/pipeline"
)

// A stream resumed with another number of workers than its checkpoint's
// cannot go on in the workers' views: they were cut for the old number.
// Each old worker i had counted the first pos[i] bytes of its view (chunks
// j with j mod workers = i, see stream), all of them if it had finished
// the stream. Reading the stream again from its start, the resumed job
// cuts and deals it as the old one did, drops what each old worker had
// counted (checking it against the old worker's hash of those bytes, so
// another stream is refused) and deals the rest anew to its own workers:
// no record is lost or counted twice. A layer is one such old dealing; a
// stream resumed so several times passes through one layer per rescale,
// each over what the one before left.
type layer struct {
	size int64    // the old dealing's chunk size
	pos  []int64  // per old worker: the view bytes it counted, or -1 for all
	sums []uint64 // per old worker: the XXH64 of those bytes
}

func (l layer) equal(o layer) bool {
	if l.size != o.size || len(l.pos) != len(o.pos) {
		return false
	}
	for i := range l.pos {
		if l.pos[i] != o.pos[i] || l.sums[i] != o.sums[i] {
			return false
		}
	}
	return true
}

// filter applies one layer to the bytes of the stream that reach it.
type filter struct {
	l       layer
	ch      *chunker
	view    []int64 // per old worker: its view bytes seen so far
	sum     []*xxhash.Digest
	checked []bool // its counted bytes were all seen and matched
	verify  *verification
	out     [][]byte
}

func newFilter(l layer, framing pipeline.Framing, v *verification) *filter {
	f := &filter{l: l, ch: newChunker(l.size, framing), view: make([]int64, len(l.pos)), checked: make([]bool, len(l.pos)), verify: v}
	for range l.pos {
		f.sum = append(f.sum, xxhash.New())
	}
	for i, p := range l.pos {
		if p == 0 && l.sums[i] == f.sum[i].Sum64() {
			f.pass(i)
		}
	}
	return f
}

// pass records that old worker i's counted bytes were all seen and
// matched.
func (f *filter) pass(i int) {
	f.checked[i] = true
	f.verify.passed()
}

// apply returns the parts of segs, the stream's next bytes, that the old
// workers had not counted, as slices of segs' bytes.
func (f *filter) apply(segs [][]byte) ([][]byte, error) {
	f.out = f.out[:0]
	var cuts []cut
	for _, seg := range segs {
		cuts = f.ch.cut(seg, cuts[:0])
		for _, c := range cuts {
			i := f.ch.j % len(f.l.pos)
			n := int64(len(c.data))
			counted := n
			if p := f.l.pos[i]; p >= 0 {
				counted = min(max(p-f.view[i], 0), n)
			}
			f.sum[i].Write(c.data[:counted])
			f.view[i] += n
			if counted < n {
				f.out = append(f.out, c.data[counted:])
			}
			if p := f.l.pos[i]; p >= 0 && !f.checked[i] && f.view[i] >= p {
				if f.sum[i].Sum64() != f.l.sums[i] {
					return nil, f.otherStream()
				}
				f.pass(i)
			}
			if c.last {
				f.ch.j++
			}
		}
	}
	return f.out, nil
}

// end checks, at the end of the stream, that every old worker's counted
// bytes were there.
func (f *filter) end() error {
	for i, p := range f.l.pos {
		if f.checked[i] {
			continue
		}
		if p >= 0 {
			return fmt.Errorf("input ended %d bytes before the checkpoint's position of worker %d (of %d): not the stream the checkpoint was taken of: %w", p-f.view[i], i, len(f.l.pos), ErrOtherStream)
		}
		if f.sum[i].Sum64() != f.l.sums[i] {
			return f.otherStream()
		}
		f.pass(i)
	}
	return nil
}

func (f *filter) otherStream() error {
	return fmt.Errorf("not the stream the checkpoint was taken of (its bytes before the checkpoint's position differ): %w", ErrOtherStream)
}
