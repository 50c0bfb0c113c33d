package pipeline

// KeyFunc selects a record's new key from its current key: a field of a
// line, say, so that one stream of lines can be counted by user in one
// branch and by page in another. It returns the new key and true, or false
// to skip the record (a line without the field).
//
// r is the outgoing record, a copy of the incoming one with its Value,
// HasValue, Time and KeepP: the function may set Value (a number parsed
// from another field) or Time; its Hash is set afterwards, from the new
// key. The new key may alias key or a buffer the function reuses: it is
// copied before the next call. A KeyFunc may be called from several
// goroutines at once (one per upstream instance), so it must keep no
// mutable state, as ByField keeps none.
type KeyFunc func(key []byte, r *Record) ([]byte, bool)

// ByField returns a KeyFunc that keys each record by field n (1-based) of
// its key split by d, as Field does, skipping records without that field;
// n == 0 keeps the whole key. It allocates nothing per record.
func ByField(n int, d Delimiter) KeyFunc {
	return func(key []byte, _ *Record) ([]byte, bool) {
		return Field(key, n, d)
	}
}

// Rekey is an operator that gives every record a new key, chosen by Key,
// hashed once here: the re-keying step of a fan-out branch, for a linear
// graph. Value, HasValue, Time and KeepP travel with the record (Batch.Add
// would drop them). A stage after it with ByKey partitions by the new key.
// Records Key skips are not passed on; the stage's RecordsIn minus
// RecordsOut (Metrics) counts them.
//
// The zero value passes every record on unchanged. Rekey keeps no state,
// so checkpoints have nothing to save for it (its 135 KiB of scratch space
// for hashing keys by length, made on the first batch, carries nothing
// from one batch to the next); an instance is called from one goroutine
// at a time, as every operator.
type Rekey struct {
	Key KeyFunc
	by  *byLength // hashLines' scratch space, made on first use
}

// Process implements Operator.
func (o *Rekey) Process(in, out *Batch) error {
	if o.by == nil && o.Key != nil {
		o.by = new(byLength)
	}
	rekey(o.Key, in, out, o.by)
	return nil
}

// rekey appends to out every record of in under its new key, and returns
// how many it appended. Without a key function the records are copied as
// they are, hash included. The new keys are hashed together at the end, by
// length (hashLines), which by is scratch space for.
func rekey(key KeyFunc, in, out *Batch, by *byLength) int {
	n := out.Len()
	if key == nil {
		out.Records = append(out.Records, in.Records...)
		base := len(out.arena)
		out.arena = append(out.arena, in.arena...)
		for i := n; i < len(out.Records); i++ {
			out.Records[i].keyOff += uint32(base)
		}
		return len(in.Records)
	}
	// The slices live in locals for the loop: appending through out
	// would load and store its slice headers at every record, around the
	// call to key, which may not be inlined.
	recs, arena := out.Records, out.arena
	for i := range in.Records {
		// The copy goes into recs first, so that the KeyFunc gets a
		// pointer into a slice rather than to a local that would escape
		// (an allocation per record).
		recs = appendRecord(recs, &in.Records[i])
		r := &recs[len(recs)-1]
		k, ok := key(in.Key(i), r)
		if !ok {
			recs = recs[:len(recs)-1]
			continue
		}
		r.keyOff, r.keyLen = uint32(len(arena)), uint32(len(k))
		arena = append(arena, k...)
	}
	out.Records, out.arena = recs, arena
	hashLines(recs[n:], arena, 0, by)
	return len(recs) - n
}

// appendRecord appends *r to recs. It is append(recs, *r) without the
// detour that append of a 40-byte struct takes in Go 1.26 on amd64: a copy
// to a stack temporary in overlapping 16-byte moves, read back across two
// stores, so that store forwarding fails: 18-24 ns a record against 3 ns
// for this assignment to an index (measured on the development machine).
func appendRecord(recs []Record, r *Record) []Record {
	n := len(recs)
	if n == cap(recs) {
		recs = append(recs, Record{})[:n]
	}
	recs = recs[:n+1]
	recs[n] = *r
	return recs
}
