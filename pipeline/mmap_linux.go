//go:build linux

package pipeline

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
)

// The memory maps through which a LineSource reads a file range
// (linesource_mmap_linux.go) and SplitCSVReaderAt counts a file's quotes
// (csv_split_linux.go): a window of the file mapped read-only, read under
// debug.SetPanicOnFault, a fault inside it (a page the file lost to a
// truncation, or an I/O error) turned into ErrFileChanged.

// mmapFile maps, read-only and shared, n bytes of f from off, a multiple
// of the page size.
func mmapFile(f *os.File, off int64, n int) ([]byte, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var win []byte
	var merr error
	err = rc.Control(func(fd uintptr) {
		win, merr = sysMmap(int(fd), off, n, syscall.PROT_READ, syscall.MAP_SHARED)
	})
	if err = errors.Join(err, merr); err != nil {
		return nil, err
	}
	return win, nil
}

// sysMmap is rawMmap (tests make it fail).
var sysMmap = rawMmap

// rawMmap is syscall.Mmap as a raw system call, unmapped by munmapFile,
// not syscall.Munmap. syscall's pair enters the scheduler around the
// call, which hands the worker's P to another thread for the ~0.3 ms a
// 4 MiB munmap takes, and keeps every map in a map under a lock; a map
// window is mapped and unmapped every 4 MiB of input. `distinct -j 2`
// CPU 140 to 137 ms on 32-byte keys, 91 to 88 on 128 (the job work's
// trial, perf stat). A goroutine in a raw call cannot be preempted, so a
// stop of the world may wait for one munmap.
func rawMmap(fd int, off int64, n, prot, flags int) ([]byte, error) {
	if n <= 0 {
		return nil, syscall.EINVAL
	}
	addr, _, errno := syscall.RawSyscall6(syscall.SYS_MMAP, 0, uintptr(n), uintptr(prot), uintptr(flags), uintptr(fd), uintptr(off))
	if errno != 0 {
		return nil, errno
	}
	return unsafe.Slice((*byte)(unsafe.Add(nil, addr)), n), nil
}

// munmapFile unmaps a window mmapFile mapped.
func munmapFile(win []byte) error {
	if len(win) == 0 {
		return syscall.EINVAL
	}
	_, _, errno := syscall.RawSyscall(syscall.SYS_MUNMAP, uintptr(unsafe.Pointer(unsafe.SliceData(win))), uintptr(len(win)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// faultIn reports whether r, a value recovered from a panic, is a memory
// fault at an address of win.
func faultIn(win []byte, r any) bool {
	f, ok := r.(interface{ Addr() uintptr })
	if !ok || len(win) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(win)))
	return f.Addr() >= p && f.Addr()-p < uintptr(len(win))
}
