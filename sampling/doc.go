// Package sampling gives fair samples and summary statistics of unbounded
// streams: Reservoir (Algorithm L), WeightedReservoir (A-ExpJ), KeySampler
// (consistent hash sampling), Moments (Welford/Chan) and KLL quantiles.
//
// # Encoding
//
// Every type encodes to the same canonical, versioned, little-endian envelope
// as package sketch (magic "SSTK", version, kind, hash id and seed, shape,
// payload, CRC-32C), and its decoder returns errors wrapping the same
// sentinels (re-exported here), so errors.Is works across both packages.
//
// # Concurrency
//
// No type here is safe for concurrent use. Give each goroutine its own and
// Merge them.
package sampling
