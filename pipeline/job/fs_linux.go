package job

import (
	"fmt"
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

// Magic numbers (statfs f_type) of Linux file systems whose regular files
// report a size that says nothing of what they hold: proc reports 0,
// sysfs 4096, the others 0 or a page.
var pseudoFS = map[int64]bool{
	0x9fa0:     true, // proc
	0x62656572: true, // sysfs
	0x64626720: true, // debugfs
	0x74726163: true, // tracefs
	0x73636673: true, // securityfs
	0x27e0eb:   true, // cgroup
	0x63677270: true, // cgroup2
	0x62656570: true, // configfs
	0xde5e81e4: true, // efivarfs
	0xcafe4a11: true, // bpf
}

// sizeUnknown reports whether the regular file f (stat fi) must be read as
// a stream, to its end: its size is 0 (it may still hold bytes, as the
// files of /proc do), or it lives on a pseudo file system whose sizes are
// made up.
func sizeUnknown(f *os.File, fi os.FileInfo) bool {
	if fi.Size() == 0 {
		return true
	}
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return false
	}
	return pseudoFS[int64(st.Type)]
}

// fileIdentity describes what makes fi's file itself, for checkpoints: its
// device and inode, whatever path names it.
func fileIdentity(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf(" device %d inode %d", st.Dev, st.Ino)
}
