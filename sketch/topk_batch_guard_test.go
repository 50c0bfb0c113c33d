//go:build linux

package sketch

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// topkGuardedMem maps n bytes (rounded up to whole pages) between two
// pages that can be neither read nor written, and returns them: a read
// just past their end or just before their start faults.
func topkGuardedMem(t *testing.T, n int) []byte {
	t.Helper()
	ps := syscall.Getpagesize()
	n = (n + ps - 1) / ps * ps
	m, err := syscall.Mmap(-1, 0, n+2*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(m) })
	for _, g := range [][]byte{m[:ps], m[ps+n:]} {
		if err := syscall.Mprotect(g, syscall.PROT_NONE); err != nil {
			t.Fatalf("mprotect: %v", err)
		}
	}
	return m[ps : ps+n : ps+n]
}

// topkAtEdge returns n bytes of mem (from topkGuardedMem): the last n,
// which end at a guard page, or the first n, which start after one.
func topkAtEdge(mem []byte, n int, atEnd bool) []byte {
	if atEnd {
		return mem[len(mem)-n:]
	}
	return mem[:n:n]
}

// topkGuarded copies s (of a type without pointers) to guarded memory,
// ending at a guard page or starting after one; len and cap are len(s).
func topkGuarded[T any](t *testing.T, s []T, atEnd bool) []T {
	if len(s) == 0 {
		return s
	}
	size := len(s) * int(unsafe.Sizeof(s[0]))
	b := topkAtEdge(topkGuardedMem(t, size), size, atEnd)
	g := unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(s))
	copy(g, s)
	return g
}

// TestTopKAddHashesGuardPages: AddHashes' loop reads nothing past (or
// before) the table, the counters, the arena, the hashes and each key:
// each lies against a page that faults when touched, and the sketch ends
// in AddHash's state. New keys of several lengths, every fifth a repeat
// (a hit: keys compared inline or in the arena), some with hashes whose
// homes are the table's last slots (probes that stop at its end).
func TestTopKAddHashesGuardPages(t *testing.T) {
	if !tkHasEvictRun {
		t.Skip("no eviction loop on this architecture")
	}
	const k, n, run = 64, 20_000, 128
	for _, c := range []struct{ lo, hi int }{{1, 3}, {4, 16}, {1, 40}, {17, 17}, {32, 32}, {33, 33}, {100, 100}, {17, 200}} {
		for _, atEnd := range []bool{true, false} {
			name := fmt.Sprintf("len=%d..%d/atEnd=%v", c.lo, c.hi, atEnd)
			t.Run(name, func(t *testing.T) {
				a, b := topkNew(t, k), topkNew(t, k)
				lastTag := uint64(len(a.table)-1) << a.shift // its home: the last slot
				r := rand.New(rand.NewPCG(uint64(c.lo), uint64(c.hi)))
				var keys []string
				hash := func(key string) uint64 {
					if h := HashString(key); h%8 != 0 {
						return h
					}
					// A home in the last three slots: tags differ in their
					// low bits.
					return topkHashOfTag(lastTag - uint64(len(key)%3)<<a.shift + uint64(len(key)))
				}
				for i := range n {
					if i > 0 && r.IntN(5) == 0 {
						keys = append(keys, keys[max(0, len(keys)-1-r.IntN(2*k))])
						continue
					}
					l := c.lo + r.IntN(c.hi-c.lo+1)
					s := fmt.Sprintf("%x", i)
					keys = append(keys, (s + strings.Repeat("~", l))[:l])
				}
				// Fill the sketches, then move a's tables against guard
				// pages: full, none of them grows again (the arena may,
				// on keys of mixed lengths, when a key moves).
				for _, key := range keys[:2*k] {
					a.AddHash(hash(key), []byte(key), 1)
					b.AddHash(hash(key), []byte(key), 1)
				}
				a.table = topkGuarded(t, a.table, atEnd)
				a.counters = topkGuarded(t, a.counters, atEnd)
				a.arena = topkGuarded(t, a.arena, atEnd)

				slots := make([][]byte, run)
				for i := range slots {
					slots[i] = topkGuardedMem(t, c.hi)
				}
				hmem := topkGuardedMem(t, 8*run)
				took, total := 0, 0
				for lo := 2 * k; lo < n; lo += run {
					batch := keys[lo:min(lo+run, n)]
					hb := topkAtEdge(hmem, 8*len(batch), atEnd)
					hs := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(hb))), len(batch))
					ks := make([][]byte, len(batch))
					for i, key := range batch {
						ks[i] = topkAtEdge(slots[i], len(key), atEnd)
						copy(ks[i], key)
						hs[i] = hash(key)
						b.AddHash(hs[i], []byte(key), 1)
					}
					for i := 0; i < len(batch); {
						m := a.evictRun(hs[i:], ks[i:])
						took, i = took+m, i+m
						if i < len(batch) {
							a.AddHash(hs[i], ks[i], 1)
							i++
						}
					}
					total += len(batch)
				}
				topkSameAs(t, a, b, false, name)
				if took < total/2 {
					t.Errorf("the loop took %d of %d updates: the test checks too little of it", took, total)
				}
			})
		}
	}
}
