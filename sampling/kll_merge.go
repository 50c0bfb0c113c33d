package sampling

import (
	"fmt"
	"slices"
)

// Merge adds o's values to s: afterwards s summarizes both streams, with the
// same RankError guarantee. Both must have the same k, or Merge returns an
// error wrapping ErrIncompatible and leaves s unchanged. o is not modified;
// s.Merge(s) counts every value twice.
//
// Levels are combined pairwise (level h of s with level h of o, both weight
// 2^h) and then compacted bottom-up while the sketch is over capacity, as
// DataSketches' generalCompress does. The coins come from s's generator.
func (s *KLL) Merge(o *KLL) error {
	s.init()
	if s.k != o.K() {
		return fmt.Errorf("sampling: KLL merge of a k=%d sketch into a k=%d one: %w", o.K(), s.k, ErrIncompatible)
	}
	if s.n+o.n < s.n {
		// Past 2^64 weights stop adding up (and levels run out).
		return fmt.Errorf("sampling: KLL merge: combined count %d + %d overflows uint64: %w", s.n, o.n, ErrIncompatible)
	}
	if o == s {
		o = s.clone()
	}
	s.nans += o.nans
	if o.n == 0 {
		return nil
	}
	if s.n == 0 {
		s.min, s.max = o.min, o.max
	} else {
		s.min, s.max = min(s.min, o.min), max(s.max, o.max)
	}
	numLevels := max(s.numLevels, o.numLevels)
	work := make([][]float64, numLevels, numLevels+1)
	for h := range numLevels {
		var a, b []float64
		if h < s.numLevels {
			a = s.level(h)
		}
		if h < o.numLevels {
			b = o.level(h)
		}
		if h == 0 {
			work[0] = append(append(make([]float64, 0, len(a)+len(b)), a...), b...) // unsorted
		} else {
			work[h] = mergeSorted(a, b)
		}
	}
	s.n += o.n
	s.numLevels = numLevels
	s.capacity = s.totalCap(numLevels)
	work = s.compressLevels(work)

	// Lay the levels out at the end of a buffer of the working length.
	if cap(s.items) < s.capacity {
		s.items = make([]float64, s.capacity, s.totalCap(min(s.numLevels+8, kllMaxLevels)))
	}
	s.items = s.items[:s.capacity]
	pos := s.capacity
	s.levels[s.numLevels] = uint32(pos)
	for h := s.numLevels - 1; h >= 0; h-- {
		pos -= len(work[h])
		copy(s.items[pos:], work[h])
		s.levels[h] = uint32(pos)
	}
	s.viewOK = false
	return nil
}

// compressLevels compacts, bottom-up, each level at or over its capacity
// while the total is at or over the sketch's capacity, adding a level on top
// when the top level is compacted. Afterwards the total is below capacity:
// every level was either under its capacity or compacted down to at most one
// item.
func (s *KLL) compressLevels(work [][]float64) [][]float64 {
	total := 0
	for _, l := range work {
		total += len(l)
	}
	for h := 0; h < len(work) && total >= s.capacity; h++ {
		cur := work[h]
		if len(cur) < s.levelCap(h) {
			continue
		}
		if h == s.numLevels-1 {
			work = append(work, nil)
			s.capacity += int(s.depthCap[s.numLevels])
			s.numLevels++
		}
		if h == 0 {
			slices.Sort(cur)
		}
		odd := len(cur) & 1
		half := (len(cur) - odd) / 2
		off := odd + s.coin()
		kept := make([]float64, half)
		for i := range kept {
			kept[i] = cur[off+2*i]
		}
		work[h+1] = mergeSorted(kept, work[h+1])
		work[h] = cur[:odd]
		total -= half
	}
	return work
}

// mergeSorted returns a new slice holding the sorted a and b merged.
func mergeSorted(a, b []float64) []float64 {
	out := make([]float64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if b[j] < a[i] {
			out = append(out, b[j])
			j++
		} else {
			out = append(out, a[i])
			i++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// clone returns a deep copy of s without its query cache.
func (s *KLL) clone() *KLL {
	c := *s
	c.items = slices.Clone(s.items)
	c.view, c.viewTmp, c.viewOK = nil, nil, false
	return &c
}
