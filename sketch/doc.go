// Package sketch implements mergeable, serializable streaming sketches with
// error bounds: HLL (distinct counts), CountMin (frequencies), TopK (heavy
// hitters), Bloom (membership), and GroupDistinct and GroupHLL (distinct
// counts per group: the groups with the most, or every group).
//
// # Hashing
//
// Every sketch has an update path that takes a precomputed 64-bit hash
// (AddHash, TestHash, ...). Callers hash each record once, at ingress, with
// Hash or HashString (xxhash64, seed 0), and hand the same uint64 to every
// sketch, to the shedder and to the partitioner. The byte and string methods
// are conveniences that hash and then call the Hash method.
//
// # Estimates
//
// Queries return an Estimate: a value with Lower and Upper bounds at a stated
// confidence (DefaultConfidence unless asked otherwise), and whether the value
// is exact. The bounds are tested for coverage, not just printed: see each
// type's documentation for the model behind them.
//
// # Encoding
//
// Every sketch implements encoding.BinaryMarshaler, encoding.BinaryAppender and
// encoding.BinaryUnmarshaler with one canonical, versioned, little-endian
// envelope (magic "SSTK", format version, kind, hash id and seed, shape,
// payload, CRC-32C). Equal state gives equal bytes. Decoding bad bytes returns
// an error wrapping one of the Err sentinels below and never panics; a decoder
// allocates only in proportion to the bytes it was given, whatever the header
// claims.
//
// # Concurrency
//
// No sketch is safe for concurrent use; even queries may reorganise internal
// state. Give each goroutine its own sketch and Merge them, which is what the
// pipeline package does.
package sketch
