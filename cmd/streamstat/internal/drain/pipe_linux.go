package main

import (
	"os"
	"syscall"
)

// growPipe asks for the pipe buffer pipeline/job asks for (its
// pipeBuffer), and ignores failure as it does.
func growPipe(f *os.File) {
	const fSetPipeSz = 1031 // F_SETPIPE_SZ
	syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fSetPipeSz, 1<<20)
}
