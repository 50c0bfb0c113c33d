package sketch

import "github.com/cespare/xxhash/v2"

// Hash returns the 64-bit hash every sketch expects in its ...Hash methods:
// xxhash64 with seed 0. Hash each record once and pass the result on.
func Hash(b []byte) uint64 { return xxhash.Sum64(b) }

// HashString is Hash for a string, without converting it to []byte.
func HashString(s string) uint64 { return xxhash.Sum64String(s) }
