//go:build linux

package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// quoteMapWindow is how much of a file quotesOddMapped maps at a time.
const quoteMapWindow = 4 << 20

// quotesOddMapped is countQuotesOdd through a memory map of the file,
// where r is one: the quotes are counted where the page cache holds
// them, not copied into a buffer first (the copy was two thirds of the
// split's CPU, and the split a fifth of a CSV distinct's, its ranges read
// through maps). ok is false where r is not a file or cannot be mapped:
// the caller reads it then, from the start, also where a window after the
// first could not be mapped (counting the windows before again costs less
// than failing the split). A file shorter than size, or truncated while
// counted (reading a page it lost faults), is ErrFileChanged.
func quotesOddMapped(r io.ReaderAt, from, to, size int64) (odd, ok bool, err error) {
	f, isFile := r.(*os.File)
	if !isFile || from >= to {
		return false, false, nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false, false, nil
	}
	if fi.Size() < to {
		return false, true, fmt.Errorf("ended at byte %d of %d: %w", fi.Size(), size, ErrFileChanged)
	}
	page := int64(os.Getpagesize())
	for pos := from; pos < to; {
		at := pos &^ (page - 1)
		end := min(to, at+quoteMapWindow)
		win, err := mmapFile(f, at, int(end-at))
		if err != nil {
			return false, false, nil
		}
		o, err := quotesOddGuarded(win, win[pos-at:], size)
		munmapFile(win)
		if err != nil {
			return false, true, err
		}
		odd = odd != o
		pos = end
	}
	return odd, true, nil
}

// quotesOddGuarded reports whether b, bytes of the mapped window win,
// holds an odd number of quotes; a fault reading win (the file lost the
// page) is ErrFileChanged.
func quotesOddGuarded(win, b []byte, size int64) (odd bool, err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		r := recover()
		if r == nil {
			return
		}
		if !faultIn(win, r) {
			panic(r)
		}
		err = fmt.Errorf("a fault reading its memory map (truncated while read; size %d when opened): %w", size, ErrFileChanged)
	}()
	return bytes.Count(b, quote)&1 == 1, nil
}
