//go:build !linux

package job

import "os"

// growPipe enlarges a pipe's buffer where the system allows it: only on
// Linux for now.
func growPipe(any) {}

// sizeUnknown reports whether the regular file f (stat fi) must be read as
// a stream, to its end: its size is 0, which may not mean empty.
func sizeUnknown(f *os.File, fi os.FileInfo) bool { return fi.Size() == 0 }

// fileIdentity describes what makes fi's file itself, for checkpoints:
// where device and inode numbers are not at hand, nothing beyond its size
// and modification time.
func fileIdentity(os.FileInfo) string { return "" }
