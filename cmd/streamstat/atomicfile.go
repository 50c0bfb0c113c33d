package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/streamstat/streamstat/internal/atomicfile"
)

// writeFileAtomic writes path through a temporary file in the same
// directory, synced, then renamed over path; then it syncs the directory,
// so that once it returns the file survives a crash under its name (a
// rename is only durable once its directory is). The file is created with
// mode 0666 less the umask, as by shell redirection and os.Create.
func writeFileAtomic(path string, data []byte) error {
	f, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, unwrapPath(err))
	}
	if err := atomicfile.Replace(f, path, data); err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write %s: sync its directory: %w", path, unwrapPath(err))
	}
	return nil
}

// createTemp creates a new file beside path, like os.CreateTemp but with
// mode 0666 (less the umask) instead of 0600: the file becomes path.
func createTemp(path string) (*os.File, error) {
	for try := 0; ; try++ {
		name := path + ".tmp" + strconv.FormatUint(rand.Uint64()%1e10, 10)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}

// syncDir fsyncs directory dir. Tests replace it to watch the calls.
var syncDir = atomicfile.SyncDir

// checkSavePath checks, before any input is read, that --save FILE can be
// written: its directory exists and takes a new file, and FILE is not a
// directory. It tries by creating and removing a temporary file there,
// which is what the final write will do.
func checkSavePath(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("--save %s: is a directory; give a file name", path)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--save %s: directory %s does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("--save %s: %w", path, unwrapPath(err))
	case !fi.IsDir():
		return fmt.Errorf("--save %s: %s is not a directory", path, dir)
	}
	f, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("--save %s: cannot create a file in %s: %w", path, dir, unwrapPath(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
