package main

import (
	"os"
	"syscall"
)

// pipeBuffer is the pipe capacity streamstat asks for on a pipe it reads:
// with Linux's default of 64 KiB, the writer (cat, a decompressor) and
// streamstat's reader wake each other 16 times per MiB; at 1 MiB, once.
const pipeBuffer = 1 << 20

// growPipe enlarges the kernel buffer of r if it is a pipe, and ignores
// failure (an unprivileged process may be limited by
// /proc/sys/fs/pipe-max-size): the buffer only saves wakeups.
func growPipe(r any) {
	f, ok := r.(*os.File)
	if !ok {
		return
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	const fSetPipeSz = 1031 // F_SETPIPE_SZ
	syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fSetPipeSz, pipeBuffer)
}
