package pipeline

import (
	"github.com/streamstat/streamstat/sketch"
)

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
// so checkpoints have nothing to save for it; an instance is called from
// one goroutine at a time, as every operator.
type Rekey struct {
	Key KeyFunc
}

// Process implements Operator.
func (o *Rekey) Process(in, out *Batch) error {
	rekey(o.Key, in, out)
	return nil
}

// rekey appends to out every record of in under its new key, and returns
// how many it appended. Without a key function the records are copied as
// they are, hash included.
func rekey(key KeyFunc, in, out *Batch) int {
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
	for i := range in.Records {
		// The copy goes into out first, so that the KeyFunc gets a
		// pointer into a slice rather than to a local that would escape.
		out.Records = append(out.Records, in.Records[i])
		r := &out.Records[len(out.Records)-1]
		k, ok := key(in.Key(i), r)
		if !ok {
			out.Records = out.Records[:len(out.Records)-1]
			continue
		}
		off := out.appendArena(k)
		r.keyOff, r.keyLen = uint32(off), uint32(len(k))
		r.Hash = sketch.Hash(k)
	}
	return out.Len() - n
}
