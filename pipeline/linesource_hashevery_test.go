package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// lsFillShot is what one Fill left in a batch: its records and its arena,
// copied, and the error.
type lsFillShot struct {
	recs  []Record
	arena []byte
	err   error
}

// lsFillShots drains the source made by open with Fills of up to max
// records, hashing every `every` bytes of lines (hashEvery), and returns
// each Fill's batch. The batch is reset only before every other Fill, so
// half the Fills append to records and an arena already there.
func lsFillShots(t testing.TB, every, max int, open func() (*LineSource, error)) []lsFillShot {
	t.Helper()
	defer func(old int) { hashEvery = old }(hashEvery)
	hashEvery = every
	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var shots []lsFillShot
	var b Batch
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("source never ends")
		}
		if i%2 == 0 {
			b.Reset()
		}
		err := s.Fill(context.Background(), &b, max)
		shots = append(shots, lsFillShot{slices.Clone(b.Records), slices.Clone(b.arena), err})
		if err != nil {
			return shots
		}
	}
}

// lsSameShots reports the first Fill where got differs from want.
func lsSameShots(got, want []lsFillShot) error {
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if fmt.Sprint(g.err) != fmt.Sprint(w.err) {
			return fmt.Errorf("Fill %d: error %v, want %v", i, g.err, w.err)
		}
		if !slices.Equal(g.recs, w.recs) {
			return fmt.Errorf("Fill %d: %d records differ from the %d of hashing once a Fill", i, len(g.recs), len(w.recs))
		}
		if !bytes.Equal(g.arena, w.arena) {
			return fmt.Errorf("Fill %d: arena of %d bytes differs from the %d of copying once a Fill", i, len(g.arena), len(w.arena))
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("%d Fills, want %d", len(got), len(want))
	}
	return nil
}

// lsHashEveryInputs are inputs for the batches test: long and mixed keys,
// CRLF, keys over a cap of 40, and a last line without a newline.
func lsHashEveryInputs() map[string][]byte {
	r := rand.New(rand.NewPCG(16, 2048))
	gen := func(n int, length func() int, crlf bool) []byte {
		var d []byte
		for range n {
			for range length() {
				d = append(d, 'a'+byte(r.IntN(26)))
			}
			if crlf {
				d = append(d, '\r')
			}
			d = append(d, '\n')
		}
		return d
	}
	return map[string][]byte{
		"len=128":            gen(600, func() int { return 128 }, false),
		"len=0..300":         gen(600, func() int { return r.IntN(301) }, false),
		"len=8":              gen(4000, func() int { return 8 }, false),
		"crlf,len=16..48":    gen(1500, func() int { return 16 + r.IntN(33) }, true),
		"len=20..60,no-last": bytes.TrimSuffix(gen(1500, func() int { return 20 + r.IntN(41) }, false), []byte("\n")),
		"cr-only-lines":      bytes.Repeat([]byte("\r\n\r\r\n"), 800),
	}
}

// TestLineSourceHashEveryBatches checks that hashing keys and copying
// lines every hashEvery bytes (takeWhole) leaves every Fill's batch as
// hashing and copying once a Fill did: the same records (offsets, lengths,
// hashes) and the same arena, byte for byte, newlines and CRs included,
// with and without HashOnly, a key cap (takeCapped), MaxBatchBytes, small
// and large buffers, reads cut anywhere, lent bytes, a range's limit, and
// batches that already hold records.
func TestLineSourceHashEveryBatches(t *testing.T) {
	inputs := lsHashEveryInputs()
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		data := inputs[name]
		for _, hashOnly := range []bool{false, true} {
			for _, keyCap := range []int{0, 40} {
				for _, batchBytes := range []int{0, 1000, 7000} {
					for _, buf := range []int{100, 4096, 0} {
						cfg := LineConfig{HashOnly: hashOnly, MaxKeyLen: keyCap, MaxBatchBytes: batchBytes, BufferSize: buf}
						t.Run(fmt.Sprintf("input=%s,hashonly=%t,keycap=%d,batchbytes=%d,buffer=%d", name, hashOnly, keyCap, batchBytes, buf), func(t *testing.T) {
							lsCheckHashEvery(t, data, cfg)
						})
					}
				}
			}
		}
	}
}

// lsCheckHashEvery compares the batches of hashing every 1, 64, 300 and
// hashEvery bytes with those of once a Fill, on data read in pieces of
// 13 to 4999 bytes, lent in pieces and read as 3 ranges of a file.
func lsCheckHashEvery(t *testing.T, data []byte, cfg LineConfig) {
	ranges, err := SplitReaderAt(bytes.NewReader(data), "in", int64(len(data)), 3)
	if err != nil {
		t.Fatal(err)
	}
	reads := []int{13, 333, 4999}
	if testing.Short() {
		reads = reads[1:2]
	}
	for _, max := range []int{7, 1024} {
		for _, k := range reads {
			open := func() (*LineSource, error) { return NewLineSource(&lsChunkReader{data: data, k: k}, cfg) }
			want := lsFillShots(t, math.MaxInt, max, open)
			for _, every := range []int{1, 64, 300, hashEvery} {
				if err := lsSameShots(lsFillShots(t, every, max, open), want); err != nil {
					t.Fatalf("max=%d,read=%d,hashevery=%d: %v", max, k, every, err)
				}
			}
		}
		// Lent in pieces of up to 9000 bytes (Lender), as stdin's reader
		// lends them: the same pieces for each way.
		open := func() (*LineSource, error) {
			return NewLineSource(&lsLender{data: data, r: rand.New(rand.NewPCG(uint64(max), 1)), maxPiece: 9000}, cfg)
		}
		want := lsFillShots(t, math.MaxInt, max, open)
		for _, every := range []int{1, hashEvery} {
			if err := lsSameShots(lsFillShots(t, every, max, open), want); err != nil {
				t.Fatalf("max=%d,lent,hashevery=%d: %v", max, every, err)
			}
		}
		for i, fr := range ranges {
			open := func() (*LineSource, error) { return NewRangeSource(bytes.NewReader(data), fr, cfg) }
			want := lsFillShots(t, math.MaxInt, max, open)
			for _, every := range []int{1, 64, hashEvery} {
				if err := lsSameShots(lsFillShots(t, every, max, open), want); err != nil {
					t.Fatalf("max=%d,range=%d,hashevery=%d: %v", max, i, every, err)
				}
			}
		}
	}
}

// TestLineSourceHashEveryMapped is TestLineSourceHashEveryBatches for a
// mapped file of 2.5 map windows, read whole and in 3 ranges, so lines are
// cut by the windows' ends as well as the ranges'.
func TestLineSourceHashEveryMapped(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10 MB file")
	}
	data := lsBenchData(mapWindow*5/2, func(r *rand.Rand, dst []byte) []byte {
		for range 20 + r.IntN(200) {
			dst = append(dst, 'a'+byte(r.IntN(26)))
		}
		if r.IntN(8) == 0 {
			dst = append(dst, '\r')
		}
		return dst
	})
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, n := range []int{1, 3} {
		ranges, err := SplitReaderAt(f, path, int64(len(data)), n)
		if err != nil {
			t.Fatal(err)
		}
		for _, cfg := range []LineConfig{{}, {HashOnly: true}, {MaxKeyLen: 100, MaxBatchBytes: 50000}} {
			for i, fr := range ranges {
				open := func() (*LineSource, error) { return NewRangeSource(f, fr, cfg) }
				want := lsFillShots(t, math.MaxInt, DefaultBatchSize, open)
				if err := lsSameShots(lsFillShots(t, hashEvery, DefaultBatchSize, open), want); err != nil {
					t.Fatalf("%+v, range %d of %d: %v", cfg, i, n, err)
				}
			}
		}
	}
}

// FuzzLineSourceHashEvery checks on any bytes, read in pieces, that
// hashing every few bytes of lines leaves the batches of hashing once a
// Fill (TestLineSourceHashEveryBatches), with and without HashOnly, a key
// cap and MaxBatchBytes; a repeat count makes enough lines for the
// hashing in groups of 16 keys.
func FuzzLineSourceHashEvery(f *testing.F) {
	inputs := lsHashEveryInputs()
	for _, s := range []string{"", "\n", "0123456789abcdef0123\r\n", "a\r\r\n\n\x0b\n\x01", "x"} {
		inputs[s] = []byte(s)
	}
	for _, d := range inputs {
		f.Add(d[:min(len(d), 2000)], uint16(4096), uint16(700), uint8(9), uint16(1), uint8(40), true, uint16(900), uint8(3))
		f.Add(d[:min(len(d), 2000)], uint16(100), uint16(33), uint8(200), uint16(64), uint8(0), false, uint16(0), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, buf, chunk uint16, max uint8, every uint16, keyCap uint8, hashOnly bool, batchBytes uint16, repeat uint8) {
		if len(data) > 1<<14 {
			return
		}
		data = bytes.Repeat(data, 1+int(repeat%8))
		cfg := LineConfig{BufferSize: 1 + int(buf%8192), HashOnly: hashOnly, MaxKeyLen: int(keyCap), MaxBatchBytes: int(batchBytes)}
		open := func() (*LineSource, error) {
			return NewLineSource(&lsChunkReader{data: data, k: 1 + int(chunk)}, cfg)
		}
		want := lsFillShots(t, math.MaxInt, 1+int(max), open)
		if err := lsSameShots(lsFillShots(t, 1+int(every%4096), 1+int(max), open), want); err != nil {
			t.Fatalf("%+v, read %d, hashevery %d on %q: %v", cfg, 1+chunk, 1+every%4096, data, err)
		}
		if err := want[len(want)-1].err; !errors.Is(err, io.EOF) {
			t.Fatalf("%+v on %q: last Fill: %v, want io.EOF", cfg, data, err)
		}
	})
}
