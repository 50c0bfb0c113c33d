// Package atomicfile replaces a file so that a crash leaves either the old
// file or the new one under its name, never a part of the new one: the
// data goes to a temporary file beside it, which is synced and renamed
// over it, and then the directory is synced (a rename is only durable once
// its directory is).
//
// The functions keep no state; they are safe for concurrent use on
// different paths.
package atomicfile

import (
	"errors"
	"os"
	"syscall"
)

// Replace writes data to tmp, a new temporary file the caller created in
// path's directory, syncs and closes it, and renames it to path. On an
// error it removes tmp. It leaves the directory unsynced: call SyncDir
// for that.
func Replace(tmp *os.File, path string, data []byte) error {
	_, err := tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// SyncDir fsyncs directory dir. A file system that cannot sync a
// directory (EINVAL) is not an error: there is nothing more to do on it.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) {
		err = nil
	}
	return err
}
