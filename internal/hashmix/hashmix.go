// Package hashmix holds the 64-bit mixers that derive well-spread values
// from record hashes, positions and seeds.
package hashmix

// Fmix64 is MurmurHash3's 64-bit finalizer (Appleby 2011): a bijection in
// which every input bit flips every output bit with probability about 1/2.
func Fmix64(z uint64) uint64 {
	z ^= z >> 33
	z *= 0xff51afd7ed558ccd
	z ^= z >> 33
	z *= 0xc4ceb9fe1a85ec53
	z ^= z >> 33
	return z
}

// SplitMix64 is the output function of SplitMix64 (Steele, Lea and Flood,
// "Fast splittable pseudorandom number generators", OOPSLA 2014): a
// bijective mixer that turns neighbouring counters into unrelated values.
func SplitMix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
