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

// sysMmap is syscall.Mmap (tests make it fail).
var sysMmap = syscall.Mmap

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
