package sketch

// The hash table from keys to TopK counters.

// The table packs a slot into a uint64: the top 32 bits of the remixed hash
// (the tag) above the counter index + 1, with 0 for an empty slot. The hash
// is remixed (Fibonacci hashing) because callers partition streams by the
// same hash, so within one partition its low bits may all be equal. A slot's
// home is the top bits of its tag. 8-byte slots keep the table, 4 slots per
// counter, as small as a table of hash+index pairs with 2 slots per counter.
func tkTag(h uint64) uint64 { return (h * 0x9e3779b97f4a7c15) >> 32 }

func (t *TopK) home(tag uint64) int { return int(tag >> t.shift) }

// lookup returns the counter of key, or tkNil.
func (t *TopK) lookup(h uint64, key []byte) int32 {
	i, _ := t.find(h, key)
	return i
}

// find returns the counter of key, or tkNil and the empty slot where the
// key's entry would go.
func (t *TopK) find(h uint64, key []byte) (int32, int) {
	mask := len(t.table) - 1
	tag := tkTag(h)
	for p := t.home(tag); ; p = (p + 1) & mask {
		s := t.table[p]
		if s == 0 {
			return tkNil, p
		}
		if s>>32 == tag {
			i := int32(uint32(s)) - 1
			if c := &t.counters[i]; c.hash == h && t.keyIs(c, key) {
				return i, p
			}
		}
	}
}

func (t *TopK) tableInsert(h uint64, i int32) {
	mask := len(t.table) - 1
	tag := tkTag(h)
	p := t.home(tag)
	for t.table[p] != 0 {
		p = (p + 1) & mask
	}
	t.table[p] = tag<<32 | uint64(i+1)
}

// rehash rebuilds the table from the counters, dropping the stale entries.
func (t *TopK) rehash() {
	t.newKeys = 2*uint64(t.stale) > t.seq-t.rehashAt
	t.rehashAt = t.seq
	clear(t.table)
	t.stale = 0
	for i := range t.counters {
		t.tableInsert(t.counters[i].hash, int32(i))
	}
}

func (t *TopK) growTable() {
	t.table = make([]uint64, 2*len(t.table))
	t.shift--
	t.stale = 0
	for i := range t.counters {
		t.tableInsert(t.counters[i].hash, int32(i))
	}
}
