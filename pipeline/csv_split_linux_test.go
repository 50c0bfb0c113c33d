//go:build linux

package pipeline

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
)

// quotesFile writes size random bytes, a quarter of them quotes, to a
// file and opens it (closed at the test's end).
func quotesFile(t *testing.T, r *rand.Rand, size int) ([]byte, *os.File) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = "\"a,\n"[r.IntN(4)]
	}
	f, err := os.Open(frWrite(t, data))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return data, f
}

// TestQuotesOddMapped: counted through maps of 4 MiB windows, from any
// offset to any other, the parity is bytes.Count's; a file shorter than
// the bytes asked for is ErrFileChanged.
func TestQuotesOddMapped(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 14))
	data, f := quotesFile(t, r, 9<<20+123)
	size := int64(len(data))
	for range 20 {
		from := r.Int64N(size)
		to := from + r.Int64N(size-from+1)
		odd, ok, err := quotesOddMapped(f, from, to, size)
		want := bytes.Count(data[from:to], quote)&1 == 1
		if from < to && !ok || err != nil || ok && odd != want {
			t.Fatalf("[%d, %d): odd %v ok %v err %v, want odd %v", from, to, odd, ok, err, want)
		}
	}
	if _, ok, err := quotesOddMapped(f, 0, size+1, size+1); !ok || !errors.Is(err, ErrFileChanged) {
		t.Fatalf("past the end: ok %v, err %v, want ErrFileChanged", ok, err)
	}
	if _, ok, _ := quotesOddMapped(bytes.NewReader(data), 0, 10, size); ok {
		t.Fatal("not a file: counted through a map")
	}
}

// TestQuotesOddGuardedFault: reading a map whose file was truncated
// faults; the count returns ErrFileChanged, and the process goes on.
func TestQuotesOddGuardedFault(t *testing.T) {
	path := frWrite(t, bytes.Repeat([]byte("\"a\",b\n"), 100_000))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	win, err := syscall.Mmap(int(f.Fd()), 0, 600_000, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Skipf("cannot map: %v", err)
	}
	defer syscall.Munmap(win)
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := quotesOddGuarded(win, win, 600_000); !errors.Is(err, ErrFileChanged) {
		t.Fatalf("got %v, want ErrFileChanged", err)
	}
}

// TestQuotesOddMapFails: where a window past the first cannot be mapped
// (out of address space, say), the count is read instead, from the start,
// and is still bytes.Count's parity, not an error that fails the split.
func TestQuotesOddMapFails(t *testing.T) {
	data, f := quotesFile(t, rand.New(rand.NewPCG(9, 15)), 2*quoteMapWindow+4099)
	defer func(old func(int, int64, int, int, int) ([]byte, error)) { sysMmap = old }(sysMmap)
	for fail := 1; fail <= 3; fail++ {
		maps := 0
		sysMmap = func(fd int, off int64, n, prot, flags int) ([]byte, error) {
			if maps++; maps == fail {
				return nil, syscall.ENOMEM
			}
			return syscall.Mmap(fd, off, n, prot, flags)
		}
		from, to := int64(1), int64(len(data)-1)
		var buf []byte
		odd, err := countQuotesOdd(f, from, to, int64(len(data)), &buf)
		if want := bytes.Count(data[from:to], quote)&1 == 1; err != nil || odd != want {
			t.Errorf("map %d fails: odd %v, err %v; want odd %v", fail, odd, err, want)
		}
	}
}
