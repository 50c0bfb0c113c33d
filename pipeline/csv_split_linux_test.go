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

// TestQuotesOddMapped: counted through maps of 4 MiB windows, from any
// offset to any other, the parity is bytes.Count's; a file shorter than
// the bytes asked for is ErrFileChanged.
func TestQuotesOddMapped(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 14))
	data := make([]byte, 9<<20+123)
	for i := range data {
		data[i] = "\"a,\n"[r.IntN(4)]
	}
	path := frWrite(t, data)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
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
