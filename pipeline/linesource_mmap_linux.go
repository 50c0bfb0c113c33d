//go:build linux && (amd64 || arm64)

package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

// mapWindow is how much of a file a mapped LineSource maps at a time: its
// memory held in the page tables (and counted in the process's RSS) is
// about this much, whatever the file's size.
const mapWindow = 4 << 20

// fileMap is a LineSource's memory map of a range of a regular file (a
// sizedReader over an *os.File of known size, as NewRangeSource makes):
// the source reads its lines in place, in a window of the file that moves
// forward, instead of copying them into its buffer with read(2). The copy
// was a fifth of `streamstat distinct`'s CPU on 32-byte keys and a third
// on 128-byte keys (_copy_to_iter in the kernel); mapping the same
// bytes from the page cache costs a few page faults per megabyte.
//
// A file truncated while mapped makes reading the lost pages fault
// (SIGBUS) where read(2) would return fewer bytes. The source reads the
// map only under guard, which turns that fault into ErrFileChanged; and
// it checks the file's size at every window and at the end, for a
// truncation that leaves the last page in place (its lost bytes read as
// zeros).
type fileMap struct {
	z   *sizedReader
	f   *os.File
	win []byte // the current window, nil if none
	at  int64  // the file offset of win[0]
	err error  // a fault while reading: the source stays failed
}

// newFileMap returns a map for a source reading r, or nil where r is not
// a file range that can be mapped.
func newFileMap(r io.Reader) *fileMap {
	z, ok := r.(*sizedReader)
	if !ok || !z.known {
		return nil
	}
	f, ok := z.r.(*os.File)
	if !ok {
		return nil
	}
	return &fileMap{z: z, f: f}
}

// unmap releases the window. It is also the source's cleanup, for a
// source dropped without Close.
func (m *fileMap) unmap() {
	if m.win != nil {
		munmapFile(m.win)
		m.win = nil
	}
}

// fileSize is the file's size now.
func (m *fileMap) fileSize() (int64, error) {
	fi, err := m.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// changed is the error of a file found shorter than its size at the
// split, worded as sizedReader words it.
func (m *fileMap) changed(size int64) error {
	return fmt.Errorf("%s ended at byte %d, before its size %d when opened (truncated or replaced while read): %w",
		m.z.name, size, m.z.size, ErrFileChanged)
}

// startMap prepares a new source to read through a map, if its reader is
// a file range: it needs no read buffer then.
func (s *LineSource) startMap() {
	if s.mm = newFileMap(s.r); s.mm != nil {
		runtime.AddCleanup(s, (*fileMap).unmap, s.mm)
	}
}

// readMapped is read for a mapped source: it maps the next window, from
// the page of the first byte not yet consumed (so that a line cut by the
// window's end is whole in the next) to mapWindow bytes on, or past
// twice the unconsumed bytes (a long line). The bytes of buf[pos:end] stay
// at the same offsets from pos. Where the file cannot be mapped (a file
// system without mmap), the source goes back to reading.
func (s *LineSource) readMapped() error {
	m := s.mm
	rest := s.end - s.pos
	start := m.z.off - int64(rest) // the file offset of buf[pos]
	if m.z.off >= m.z.size {
		s.eof = true
		return nil
	}
	page := int64(os.Getpagesize())
	from := start &^ (page - 1)
	to := min(m.z.size, from+max(mapWindow, 2*int64(rest)+page))
	size, err := m.fileSize()
	if err != nil {
		s.rerr = err
		return nil
	}
	if size < to {
		// Truncated: map what is left, and fail after its lines, as a
		// short read would.
		to = max(size, m.z.off)
		s.rerr = m.changed(size)
		if to == m.z.off {
			return nil
		}
	}
	win, err := mmapFile(m.f, from, int(to-from))
	if err != nil {
		return s.unmapToBuffer()
	}
	m.unmap()
	m.win, m.at = win, from
	s.buf = win
	s.pos, s.end = int(start-from), len(win)
	m.z.off = to
	if to == m.z.size {
		s.eof = true
	}
	return nil
}

// unmapToBuffer makes a mapped source a reading one again, its unconsumed
// bytes copied into a read buffer, and reads.
func (s *LineSource) unmapToBuffer() error {
	rest := s.end - s.pos
	buf := make([]byte, max(s.bufSize, 2*rest))
	copy(buf, s.buf[s.pos:s.end])
	s.mm.unmap()
	s.mm = nil
	s.buf, s.pos, s.end = buf, 0, rest
	return s.read(context.Background())
}

// checkMapEnd is called as a mapped source ends: a file shorter now than
// the bytes mapped lost some of them, which read as zeros in the last
// page rather than fault.
func (s *LineSource) checkMapEnd() error {
	size, err := s.mm.fileSize()
	if err != nil {
		return fmt.Errorf("pipeline: line source: %w", err)
	}
	if size < s.mm.z.off {
		return fmt.Errorf("pipeline: line source: %w", s.mm.changed(size))
	}
	return nil
}

// closeMap releases a mapped source's window; its unconsumed bytes are
// read again (mapped anew) if Fill is called after all.
func (s *LineSource) closeMap() {
	if s.mm == nil {
		return
	}
	s.mm.z.off -= int64(s.end - s.pos)
	s.buf, s.pos, s.end, s.eof = nil, 0, 0, false
	s.mm.unmap()
}

// guard makes a fault reading the map a panic of this goroutine (see
// fileMap) until endGuard, deferred, restores the setting before it.
func (m *fileMap) guard() bool { return debug.SetPanicOnFault(true) }

// endGuard ends guard: a fault at an address of the window becomes err,
// ErrFileChanged, and stays the source's error; any other panic goes on.
func (m *fileMap) endGuard(old bool, err *error) {
	debug.SetPanicOnFault(old)
	r := recover()
	if r == nil {
		return
	}
	if !faultIn(m.win, r) {
		panic(r)
	}
	m.err = fmt.Errorf("pipeline: line source: %s: a fault reading its memory map (truncated while read, or an I/O error): %w", m.z.name, ErrFileChanged)
	*err = m.err
}
