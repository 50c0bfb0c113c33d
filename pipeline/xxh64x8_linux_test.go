package pipeline

import (
	"syscall"
	"testing"
)

// TestXXH64KeysGuardPages puts data between two pages that fault on any
// access and hashes keys of every length 0..300 at its very start and its
// very end, as records with hashLines: a read before or past data would
// crash the test.
func TestXXH64KeysGuardPages(t *testing.T) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 3*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[:page], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	if err := syscall.Mprotect(mem[2*page:], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	data := mem[page : 2*page : 2*page]
	for i := range data {
		data[i] = byte(i * 7)
	}
	hashPaths(t, func(t *testing.T) {
		for n := 0; n <= 300; n++ {
			for _, size := range []int{n, n + 1, 8, 64, page} {
				if size < n {
					continue
				}
				offs := []uint32{uint32(size - n), 0, uint32(size - n), 0, uint32((size - n) / 2)}
				lens := []uint32{uint32(n), uint32(n), uint32(min(n, 7)), uint32(min(n, 3)), uint32(n)}
				x8Check(t, data[page-size:], offs, lens)
				x8Check(t, data[:size:size], offs, lens)
			}
		}
	})
}
