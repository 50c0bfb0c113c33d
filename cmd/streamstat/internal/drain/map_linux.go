package main

import (
	"os"
	"syscall"
	"unsafe"
)

// mapWindow is pipeline's: a mapped LineSource maps a file 4 MiB at a time.
const mapWindow = 4 << 20

// touchMapped maps f in windows of mapWindow, as a mapped LineSource does,
// reads one word of every 64 bytes (every cache line, so every page is
// faulted in and every line comes from memory) and unmaps each window:
// the floor of any reader of the file through a map, before it looks at
// a byte. It returns the words' sum, so that the reads are not dropped.
func touchMapped(f *os.File, size int64) (uint64, error) {
	var sum uint64
	for off := int64(0); off < size; off += mapWindow {
		n := int(min(mapWindow, size-off))
		// Raw calls, as pipeline's rawMmap and munmapFile.
		addr, _, errno := syscall.RawSyscall6(syscall.SYS_MMAP, 0, uintptr(n), syscall.PROT_READ, syscall.MAP_SHARED, f.Fd(), uintptr(off))
		if errno != 0 {
			return 0, errno
		}
		m := unsafe.Slice((*byte)(unsafe.Add(nil, addr)), n)
		for i := 0; i+8 <= n; i += 64 {
			sum += *(*uint64)(unsafe.Pointer(&m[i]))
		}
		if _, _, errno := syscall.RawSyscall(syscall.SYS_MUNMAP, addr, uintptr(n), 0); errno != 0 {
			return 0, errno
		}
	}
	return sum, nil
}
