package pipeline

import (
	"github.com/streamstat/streamstat/sketch"
)

// Record is one stream element: a key, its 64-bit xxhash computed once at
// ingress, an optional numeric value and an optional timestamp. The key bytes
// live in the arena of the Batch that holds the record; read them with
// Batch.Key.
type Record struct {
	Hash   uint64
	Value  float64
	Time   int64 // Unix nanoseconds; 0 when the source has no time
	keyOff uint32
	keyLen uint32
	// KeepP is the keep probability under which the record survived load
	// shedding: it stands for 1/KeepP records (Horvitz–Thompson). 0 means
	// it was never subject to shedding, the same as 1. (float32 fits in
	// the record's padding; its 7 digits are ample for a probability.)
	KeepP    float32
	HasValue bool
}

// Weight is the number of records this one stands for: 1/KeepP.
func (r *Record) Weight() float64 {
	if r.KeepP == 0 {
		return 1
	}
	return 1 / float64(r.KeepP)
}

// Batch is a group of records with one backing byte arena for their keys.
// Batches are recycled: Reset keeps both buffers' capacity, so a pipeline in
// steady state allocates nothing per record.
//
// The zero value is an empty batch ready to use. A Batch is not safe for
// concurrent use; ownership passes with the batch along a channel.
type Batch struct {
	_       cacheLinePad
	Records []Record
	arena   []byte
	barrier uint64 // a checkpoint barrier travelling in-band: no records
	_       cacheLinePad
}

// cacheLinePad keeps the fields a goroutine writes per record (slice
// headers growing with every append) off the cache lines of objects that
// another goroutine writes: two batches allocated side by side would
// otherwise share a line, and two parallel instances filling them would
// slow each other down. False sharing of this kind, on the generators' key
// buffers, cut BenchmarkPipelineParallel's speedup from 1.9 to 1.3.
type cacheLinePad [64]byte

// Len is the number of records.
func (b *Batch) Len() int { return len(b.Records) }

// Bytes is the number of arena bytes held: the keys, and the bytes around
// them that a source copied in one piece with them (a LineSource copies
// whole lines).
func (b *Batch) Bytes() int { return len(b.arena) }

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() {
	b.Records = b.Records[:0]
	b.arena = b.arena[:0]
	b.barrier = 0
}

// Key returns the key of b.Records[i], aliasing the arena: valid until the
// batch is reset.
func (b *Batch) Key(i int) []byte {
	r := &b.Records[i]
	return b.arena[r.keyOff : r.keyOff+r.keyLen : r.keyOff+r.keyLen]
}

// Add appends a record with key (copied into the arena), hashing it with
// sketch.Hash: the one hash of the record's life.
func (b *Batch) Add(key []byte) *Record {
	return b.AddHashed(key, sketch.Hash(key))
}

// AddHashed appends a record whose key hash is already known.
func (b *Batch) AddHashed(key []byte, hash uint64) *Record {
	off := len(b.arena)
	b.arena = append(b.arena, key...)
	b.Records = append(b.Records, Record{Hash: hash, keyOff: uint32(off), keyLen: uint32(len(key))})
	return &b.Records[len(b.Records)-1]
}

// AddRecord appends a copy of record i of src, key included. (The record
// goes by appendRecord, an assignment to an index: append of a copy took
// 1.1-1.5 times as long, BenchmarkAddRecord.)
func (b *Batch) AddRecord(src *Batch, i int) {
	off := len(b.arena)
	b.arena = append(b.arena, src.Key(i)...)
	b.Records = appendRecord(b.Records, &src.Records[i])
	b.Records[len(b.Records)-1].keyOff = uint32(off)
}

// appendArena appends p to the arena and returns the offset of its first
// byte. With spanRecord it lets a source copy many keys, and the bytes between
// them, in one piece.
func (b *Batch) appendArena(p []byte) int {
	off := len(b.arena)
	b.arena = append(b.arena, p...)
	return off
}

// spanRecord is a record whose key is the n arena bytes at off, for a
// source that appends records itself and copies their keys with
// appendArena, before or after.
func spanRecord(off, n int, hash uint64) Record {
	return Record{Hash: hash, keyOff: uint32(off), keyLen: uint32(n)}
}
