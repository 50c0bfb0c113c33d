package main

import (
	"os"
	"runtime"
	"testing"
)

// TestIsTerminal: /dev/null is a character device but not a terminal, so
// a run with stdin from it reads it (an empty input) instead of refusing
// it as a terminal; a pseudo-terminal is one.
func TestIsTerminal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("terminal attributes are checked on Linux only")
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Errorf("%s taken for a terminal", os.DevNull)
	}
	if f, err := os.CreateTemp(t.TempDir(), "f"); err == nil {
		if isTerminal(f) {
			t.Errorf("regular file taken for a terminal")
		}
		f.Close()
	}
	pt, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer pt.Close()
	if !isTerminal(pt) {
		t.Errorf("pseudo-terminal not taken for a terminal")
	}
}
