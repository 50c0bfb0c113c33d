package testio

import (
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRandomReader: the reads give the data back whole and in order, in
// sizes that vary (some empty, some short), and the same seed gives the
// same sizes.
func TestRandomReader(t *testing.T) {
	data := []byte(strings.Repeat("0123456789", 100))
	sizes := func(seed uint64) []int {
		r := RandomReader(append([]byte(nil), data...), rand.New(rand.NewPCG(seed, 1)))
		var got []byte
		var ns []int
		p := make([]byte, 64)
		for {
			n, err := r.Read(p)
			got = append(got, p[:n]...)
			ns = append(ns, n)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if string(got) != string(data) {
			t.Fatalf("seed %d: read %d bytes that differ from the %d given", seed, len(got), len(data))
		}
		return ns
	}
	a, b := sizes(7), sizes(7)
	if len(a) != len(b) {
		t.Fatalf("same seed, %d and %d reads", len(a), len(b))
	}
	empty, short := 0, 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, read %d is %d and %d bytes", i, a[i], b[i])
		}
		if a[i] == 0 && i < len(a)-1 {
			empty++
		}
		if a[i] > 0 && a[i] < 64 {
			short++
		}
	}
	if empty == 0 || short == 0 {
		t.Errorf("reads of %v: want some empty and some short", a)
	}
}
