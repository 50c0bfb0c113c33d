package main

import (
	"os"
	"syscall"
	"unsafe"
)

// ttyCheck reports whether character device f is a terminal: whether it
// has terminal attributes (the TCGETS ioctl, as isatty does).
func ttyCheck(f *os.File) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
