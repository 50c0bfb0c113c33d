package xxh

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// TestSum64EveryLength checks Sum64, and SumWindow with the key at every
// place in a 96-byte buffer of other bytes, against xxhash.Sum64 for every
// length 0..64 and several contents per length.
func TestSum64EveryLength(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	contents := map[string]func(i int) byte{
		"random": func(int) byte { return byte(r.Uint32()) },
		"zeros":  func(int) byte { return 0 },
		"ones":   func(int) byte { return 0xff },
		"ascii":  func(i int) byte { return 'a' + byte(i%26) },
	}
	for name, fill := range contents {
		for n := 0; n <= 64; n++ {
			t.Run(fmt.Sprintf("content=%s,len=%d", name, n), func(t *testing.T) {
				buf := make([]byte, 96)
				for i := range buf {
					buf[i] = byte(r.Uint32())
				}
				key := make([]byte, n)
				for i := range key {
					key[i] = fill(i)
				}
				want := xxhash.Sum64(key)
				if got := Sum64(key); got != want {
					t.Fatalf("Sum64(%x) = %#x, want %#x", key, got, want)
				}
				for start := 0; start+n <= len(buf); start++ {
					copy(buf[start:], key)
					if got := SumWindow(buf, start, start+n); got != want {
						t.Fatalf("SumWindow(buf, %d, %d) of %x = %#x, want %#x", start, start+n, key, got, want)
					}
				}
			})
		}
	}
}

// FuzzSum64 compares Sum64, and SumWindow with the key between pre and
// post bytes of the buffer, with xxhash.Sum64.
func FuzzSum64(f *testing.F) {
	f.Add([]byte(""), 0, 0)
	f.Add([]byte("key-1"), 3, 1)
	f.Add([]byte("key-1234567"), 8, 0)
	f.Add([]byte("https://example.com/a"), 0, 9)
	f.Add([]byte("0123456789abcdef0123456789abcde"), 1, 1)
	f.Add([]byte("0123456789abcdef0123456789abcdef!"), 0, 0)
	f.Fuzz(func(t *testing.T, key []byte, pre, post int) {
		want := xxhash.Sum64(key)
		if got := Sum64(key); got != want {
			t.Fatalf("Sum64(%x) = %#x, want %#x", key, got, want)
		}
		pre, post = int(uint(pre)%17), int(uint(post)%17)
		buf := make([]byte, pre+len(key)+post)
		for i := range buf {
			buf[i] = byte(i*131 + 7)
		}
		copy(buf[pre:], key)
		if got := SumWindow(buf, pre, pre+len(key)); got != want {
			t.Fatalf("SumWindow(%x, %d, %d) = %#x, want %#x", buf, pre, pre+len(key), got, want)
		}
	})
}

func TestSum64Allocs(t *testing.T) {
	buf := []byte("0123456789 key-12345\n")
	var sink uint64
	if n := testing.AllocsPerRun(100, func() {
		sink += Sum64(buf[11:20]) + SumWindow(buf, 11, 20)
	}); n != 0 {
		t.Fatalf("got %v allocation(s) (want zero)", n)
	}
	_ = sink
}

// benchKeys returns the bench input's keys: "key-N" for N drawn from a
// Zipf law with s = 1.1 over 10M ids (5..11 bytes, lengths varying from
// key to key), laid out as lines in one buffer, with their spans.
func benchKeys(n int) (buf []byte, spans [][2]int) {
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 1)), 1.1, 1, 10_000_000-1)
	for range n {
		s := len(buf)
		buf = strconv.AppendUint(append(buf, "key-"...), z.Uint64(), 10)
		spans = append(spans, [2]int{s, len(buf)})
		buf = append(buf, '\n')
	}
	return buf, spans
}

// BenchmarkSum64 hashes the same keys with xxhash.Sum64, Sum64 and
// SumWindow in one run; speedup and window-speedup are xxhash.Sum64's time
// over theirs.
func BenchmarkSum64(b *testing.B) {
	cases := []struct {
		name string
		keys func() ([]byte, [][2]int)
	}{
		{"zipf=key-N", func() ([]byte, [][2]int) { return benchKeys(1 << 16) }},
		{"len=0..31", func() ([]byte, [][2]int) {
			r := rand.New(rand.NewPCG(2, 3))
			var buf []byte
			var spans [][2]int
			for range 1 << 16 {
				s := len(buf)
				for range r.IntN(32) {
					buf = append(buf, byte('a'+r.IntN(26)))
				}
				spans = append(spans, [2]int{s, len(buf)})
				buf = append(buf, '\n')
			}
			return buf, spans
		}},
		{"len=8", func() ([]byte, [][2]int) {
			var buf []byte
			var spans [][2]int
			for i := range 1 << 16 {
				s := len(buf)
				buf = fmt.Appendf(buf, "k%07d", i)
				spans = append(spans, [2]int{s, len(buf)})
				buf = append(buf, '\n')
			}
			return buf, spans
		}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			buf, spans := bc.keys()
			var ref, ours, win time.Duration
			var s1, s2, s3 uint64
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				for _, sp := range spans {
					s1 += xxhash.Sum64(buf[sp[0]:sp[1]])
				}
				t1 := time.Now()
				for _, sp := range spans {
					s2 += Sum64(buf[sp[0]:sp[1]])
				}
				t2 := time.Now()
				for _, sp := range spans {
					s3 += SumWindow(buf, sp[0], sp[1])
				}
				t3 := time.Now()
				ref, ours, win = ref+t1.Sub(t0), ours+t2.Sub(t1), win+t3.Sub(t2)
			}
			if s1 != s2 || s1 != s3 {
				b.Fatalf("sums differ: %#x %#x %#x", s1, s2, s3)
			}
			keys := float64(b.N) * float64(len(spans))
			b.ReportMetric(float64(ref.Nanoseconds())/keys, "xxhash-ns/key")
			b.ReportMetric(float64(ours.Nanoseconds())/keys, "ns/key")
			b.ReportMetric(float64(win.Nanoseconds())/keys, "window-ns/key")
			b.ReportMetric(ref.Seconds()/ours.Seconds(), "speedup")
			b.ReportMetric(ref.Seconds()/win.Seconds(), "window-speedup")
		})
	}
}
