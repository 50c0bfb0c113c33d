package sketch

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// topkBatchStream is a stream for comparing AddHashes with AddHash: keys,
// their hashes (Hash(key), or a few values only, so that tags collide,
// probes run long and wrap at the end of the table) and counts.
type topkBatchStream struct {
	hashes []uint64
	keys   [][]byte
	counts []uint64
}

// topkBatchEvents makes n updates in stretches of one of several modes
// (with collide, hashes that take one of three tags):
// only new keys (of 1 to 40 bytes, or of one length), new keys with a few
// repeats (which leave stale entries in the minimum's queue), many
// repeats, a small hot set, keys that differ in one byte, and a
// saturating count now and then.
func topkBatchEvents(seed uint64, n, k int, collide bool, tags [3]uint64) *topkBatchStream {
	r := rand.New(rand.NewPCG(seed, 17))
	s := &topkBatchStream{}
	fresh, mode, width := 0, int(seed%6), 1+r.IntN(20)
	var recent []string
	for range n {
		if r.IntN(300) == 0 {
			mode, width = r.IntN(6), 1+r.IntN(20)
		}
		fresh++
		key, w := "", uint64(1)
		switch repeat := len(recent) > 0; {
		case mode == 1 && repeat && r.IntN(50) == 0, mode == 2 && repeat && r.IntN(3) == 0:
			key = recent[r.IntN(len(recent))]
		case mode == 3:
			key = "hot" + strconv.Itoa(int(r.ExpFloat64()*float64(k)))
		case mode == 4:
			key = fmt.Sprintf("%0*d", width, fresh) // one length for a while
		case mode == 5:
			// Keys of a few lengths that differ in one byte only, in the
			// middle or at the end: with collide, equal hashes too.
			b := bytes.Repeat([]byte{'k'}, []int{1, 2, 3, 3, 9, 17, 24, 33}[fresh%8])
			b[len(b)/2*(fresh/8%2)+(len(b)-1)*(1-fresh/8%2)] = byte('a' + fresh/16%26)
			key = string(b)
		default:
			key = strconv.Itoa(fresh) + strings.Repeat("~", (fresh*13)%37)
		}
		if r.IntN(20000) == 0 {
			w = math.MaxUint64 / 3
		}
		if len(recent) < 2*k+8 {
			recent = append(recent, key)
		} else {
			recent[r.IntN(len(recent))] = key
		}
		h := HashString(key)
		if collide {
			// Equal keys, equal hashes, and one of three tags.
			h = topkHashOfTag(tags[len(key)%3])
		}
		s.hashes, s.keys, s.counts = append(s.hashes, h), append(s.keys, []byte(key)), append(s.counts, w)
	}
	return s
}

// topkHashOfTag returns a hash whose tag (tkTag) is tag: tag<<32 times
// the inverse of tkTag's odd multiplier (mod 2^64, by Newton's method).
func topkHashOfTag(tag uint64) uint64 {
	const c = 0x9e3779b97f4a7c15
	inv := uint64(c)
	for range 6 {
		inv *= 2 - c*inv
	}
	return tag << 32 * inv
}

// TestTopKAddHashesSameAsAddHash feeds one sketch batches through
// AddHashes and another the same keys one by one through AddHash, and
// checks after every few batches that they encode alike, answer Top and
// Estimate alike and keep the invariants: over capacities, modes of
// stream, batch sizes from 1 to 300, batches after weighted updates,
// hashes that are Hash(key) and hashes that collide.
func TestTopKAddHashesSameAsAddHash(t *testing.T) {
	seeds := 24
	if testing.Short() {
		seeds = 6
	}
	caps := []int{1, 2, 7, 64, 333, 1024}
	for seed := range uint64(seeds) {
		for _, collide := range []bool{false, true} {
			k := caps[seed%uint64(len(caps))]
			n := 30_000
			if collide {
				n = 3000 // a probe is O(k) long
			}
			a, b := topkNew(t, k), topkNew(t, k)
			// Colliding keys have their homes at the start of the table,
			// four slots before its end (the last four slots read at
			// once; the probe must stop at the end) and at the end.
			end := uint64(len(a.table)-4) << a.shift
			// Empty slots past the table's end: a probe that ran past it
			// would take one (TestTopKAddHashesSameAsAddHash failed one
			// run in six, as the memory there happened to be zero).
			a.table = append(make([]uint64, 0, len(a.table)+8), a.table...)
			guard := a.table[len(a.table):cap(a.table)]
			ev := topkBatchEvents(seed, n, k, collide, [3]uint64{0, end, 1<<32 - 1})
			weighted := seed%3 == 2
			r := rand.New(rand.NewPCG(seed, 19))
			for i, batches := 0, 0; i < n; batches++ {
				j := min(n, i+1+r.IntN(300))
				// Weighted: every other batch goes through AddHash with its
				// counts, so that AddHashes starts from the states weighted
				// updates leave.
				viaAddHash := weighted && batches%2 == 1
				if !viaAddHash {
					a.AddHashes(ev.hashes[i:j], ev.keys[i:j])
				}
				for x := i; x < j; x++ {
					w := uint64(1)
					if viaAddHash {
						w = ev.counts[x]
						a.AddHash(ev.hashes[x], ev.keys[x], w)
					}
					b.AddHash(ev.hashes[x], ev.keys[x], w)
				}
				i = j
				if batches%10 == 9 || i == n {
					at := fmt.Sprintf("seed %d k=%d collide=%v weighted=%v after %d updates", seed, k, collide, weighted, i)
					topkSameAs(t, a, b, !collide, at)
					if slices.ContainsFunc(guard, func(s uint64) bool { return s != 0 }) {
						t.Fatalf("%s: a probe ran past the table's end", at)
					}
					for _, x := range []int{0, i / 2, i - 1} {
						if ea, eb := a.EstimateHash(ev.hashes[x], ev.keys[x]), b.EstimateHash(ev.hashes[x], ev.keys[x]); ea != eb {
							t.Fatalf("%s: Estimate(%q) = %v, AddHash's %v", at, ev.keys[x], ea, eb)
						}
					}
				}
			}
		}
	}
}

// topkSameAs fails the test unless a and b encode alike, answer Top alike
// and, if check (hashes are Hash(key)), a keeps its invariants.
func topkSameAs(t *testing.T, a, b *TopK, check bool, at string) {
	t.Helper()
	if !bytes.Equal(topkMarshal(t, a), topkMarshal(t, b)) {
		t.Fatalf("%s: AddHashes and AddHash encode differently", at)
	}
	if err := topkCheck(a); check && err != nil {
		t.Fatalf("%s: %v", at, err)
	}
	if ta, tb := a.Top(a.Capacity()), b.Top(b.Capacity()); fmt.Sprint(ta) != fmt.Sprint(tb) {
		t.Fatalf("%s: Top differs", at)
	}
}

// TestTopKAddHashesOneByteApart: a new key with the hash and length of
// a tracked one, differing in one byte (first, middle or last), is new,
// whatever its length (the loop compares keys by windows of 1, 4, 8 and 16
// bytes).
func TestTopKAddHashesOneByteApart(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 47} {
		for _, p := range []int{0, n / 2, n - 1} {
			old := bytes.Repeat([]byte{'k'}, n)
			new := slices.Clone(old)
			new[p] = 'z'
			a, b := topkNew(t, 4), topkNew(t, 4)
			for _, s := range []*TopK{a, b} {
				for _, x := range []string{"x1", "x2", "x3"} {
					s.AddHash(HashString(x), []byte(x), 1)
				}
				s.AddHash(7, old, 5) // a hash of its own, shared with new
			}
			a.AddHashes([]uint64{7}, [][]byte{new})
			b.AddHash(7, new, 1)
			topkSameAs(t, a, b, false, fmt.Sprintf("%d bytes, byte %d differs", n, p))
		}
	}
}

// TestTopKAddHashesZeroValue: the zero TopK takes batches too, growing
// its tables to the default capacity and then evicting in AddHashes' loop,
// as AddHash would.
func TestTopKAddHashesZeroValue(t *testing.T) {
	var a, b TopK
	ev := topkUniformEvents(3*DefaultTopKCapacity, 12)
	keys := make([][]byte, ev.n())
	for i := range keys {
		keys[i] = ev.key(i)
	}
	a.AddHashes(nil, nil) // nothing to add: still the zero value
	for i := 0; i < ev.n(); i += 100 {
		j := min(i+100, ev.n())
		a.AddHashes(ev.hashes[i:j], keys[i:j])
		for x := i; x < j; x++ {
			b.AddHash(ev.hashes[x], keys[x], 1)
		}
	}
	topkSameAs(t, &a, &b, true, "zero value")
}

// TestTopKAddHashesRuns checks that AddHashes' own loop takes the updates
// it is for, so that TestTopKAddHashesSameAsAddHash tests it: new keys
// (of 1 byte or more) replacing the minimum, and hits on counters above
// it, as on Zipf keys.
func TestTopKAddHashesRuns(t *testing.T) {
	if !tkHasEvictRun {
		t.Skip("no eviction loop on this architecture")
	}
	const n = 20_000
	for _, c := range []struct {
		name string
		ev   *topkEvents
		min  int // share of the updates the loop takes, in %
	}{
		{"len=3", topkUniformEvents(n, 3), 95},
		{"len=8", topkUniformEvents(n, 8), 95},
		{"len=16", topkUniformEvents(n, 16), 95},
		{"len=17", topkUniformEvents(n, 17), 95},
		{"len=128", topkUniformEvents(n, 128), 95},
		// Regions grow to the longest key their counter sees and keep
		// that size through compaction, so keys stop moving.
		{"len=64..192", topkLengthsEvents(n, 64, 192), 90},
		{"zipf", topkCLIEvents(n), 70},
	} {
		s := topkNew(t, 256)
		ev := c.ev
		keys := make([][]byte, ev.n())
		for i := range keys {
			keys[i] = ev.key(i)
		}
		s.AddHashes(ev.hashes[:5000], keys[:5000])
		took := 0
		for i := 5000; i < ev.n(); {
			k := s.evictRun(ev.hashes[i:], keys[i:])
			took += k
			i += k
			if i < ev.n() {
				s.AddHash(ev.hashes[i], keys[i], 1)
				i++
			}
		}
		if pct := 100 * took / (ev.n() - 5000); pct < c.min {
			t.Errorf("%s: the loop took %d%% of the updates, want %d%% or more", c.name, pct, c.min)
		}
	}
}

// topkLengthsEvents is n new keys of lo to hi bytes.
func topkLengthsEvents(n, lo, hi int) *topkEvents {
	r := rand.New(rand.NewPCG(uint64(lo), uint64(hi)))
	e := &topkEvents{offs: []int{0}}
	for range n {
		start := len(e.keys)
		for range lo + r.IntN(hi-lo+1) {
			e.keys = append(e.keys, byte('a'+r.IntN(26)))
		}
		e.offs = append(e.offs, len(e.keys))
		e.hashes = append(e.hashes, Hash(e.keys[start:]))
	}
	return e
}

// TestTopKAddHashesAllocs: AddHashes does not allocate once the tables
// have reached the capacity and the key regions their steady size: keys
// inline (8 bytes), in the arena (32), and of mixed lengths (64 to 192:
// regions that grow to the longest key their counter sees, and stay).
func TestTopKAddHashesAllocs(t *testing.T) {
	for name, ev := range map[string]*topkEvents{
		"8 bytes":      topkUniformEvents(1<<16, 8),
		"32 bytes":     topkUniformEvents(1<<16, 32),
		"64-192 bytes": topkLengthsEvents(1<<16, 64, 192),
	} {
		s := topkNew(t, 1024)
		keys := make([][]byte, ev.n())
		for i := range keys {
			keys[i] = ev.key(i)
		}
		s.AddHashes(ev.hashes, keys)
		i := 0
		if n := testing.AllocsPerRun(100, func() {
			j := i % (ev.n() - 256)
			s.AddHashes(ev.hashes[j:j+256], keys[j:j+256])
			i += 256
		}); n != 0 {
			t.Errorf("AddHashes, keys of %s: got %v allocation(s) a batch (want zero)", name, n)
		}
	}
}

// FuzzTopKAddHashes: AddHashes ends in the state AddHash does, whatever
// the keys, their lengths, repeats and the batches they come in. data[0]
// picks the capacity, data[1] the batch size (its low 5 bits) and whether
// hashes collide (its top bit: each key's hash then has one of four tags,
// homed at the table's first and last slots, so that probes run long and
// stop at the table's end); the rest are keys, each a length byte and that
// many bytes (cut short at the end).
func FuzzTopKAddHashes(f *testing.F) {
	f.Add([]byte{3, 5, 4, 'a', 'b', 'c', 'd', 4, 'a', 'b', 'c', 'e', 17, 'x'})
	f.Add(bytes.Repeat([]byte{1, 9, 8, 'k', 'e', 'y', '-', '0', '1', '2', '3'}, 40))
	long := []byte{2, 2}
	for i := range 60 {
		long = append(long, byte(5+i%40))
		long = append(long, bytes.Repeat([]byte{byte('a' + i%7)}, 5+i%40)...)
	}
	f.Add(long)
	long[1] |= 0x80
	f.Add(long)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		k, size, collide := 1+int(data[0]%64), 1+int(data[1]%32), data[1]&0x80 != 0
		a, b := topkNew(t, k), topkNew(t, k)
		tags := [4]uint64{0, 1, uint64(len(a.table)-1) << a.shift, 1<<32 - 1}
		var hs []uint64
		var keys [][]byte
		for rest := data[2:]; len(rest) > 0; {
			n := min(int(rest[0]), len(rest)-1)
			key := rest[1 : 1+n]
			h := Hash(key)
			if collide {
				h = topkHashOfTag(tags[h%4]) // equal keys, equal hashes
			}
			hs, keys = append(hs, h), append(keys, key)
			rest = rest[1+n:]
		}
		for i := 0; i < len(hs); i += size {
			j := min(i+size, len(hs))
			a.AddHashes(hs[i:j], keys[i:j])
		}
		for i := range hs {
			b.AddHash(hs[i], keys[i], 1)
		}
		topkSameAs(t, a, b, !collide, fmt.Sprintf("capacity %d, batches of %d, collide %v", k, size, collide))
	})
}
