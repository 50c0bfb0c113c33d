package pipeline

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// TestNewlines64 checks every bit of newlines64 against the bytes, with
// the bytes around '\n' whose difference from it borrows or carries.
func TestNewlines64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tricky := []byte{'\n', 0x0b, 0x09, 0x00, 0xff, 0x8a, 0x01, 0x80, 0x7f, '\r'}
	b := make([]byte, 64)
	for trial := range 20000 {
		for i := range b {
			b[i] = tricky[r.IntN(len(tricky))]
			if trial%3 == 0 {
				b[i] = byte(r.Uint32())
			}
		}
		var want uint64
		for i, c := range b {
			if c == '\n' {
				want |= 1 << i
			}
		}
		if got := newlines64(b); got != want {
			t.Fatalf("newlines64(%x) = %064b, want %064b", b, bits.Reverse64(got), bits.Reverse64(want))
		}
	}
}

// TestLineSourceWholeLines reads lines of every length mix through the
// whole-line path with buffers large enough for its 64-byte blocks and
// compares the records with the reference split; lsDrain checks each hash
// against sketch.Hash, so keys of every length 0..80 go through hashLines,
// sorted and not; keys hashed every hashEvery bytes of lines as set, after
// every run of lines, and once a Fill.
func TestLineSourceWholeLines(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	line := func(dst []byte, n int) []byte {
		for range n {
			dst = append(dst, "ab\r\x00\xffxyz"[r.IntN(8)])
		}
		return dst
	}
	inputs := map[string][]byte{}
	var mixed, same, long, crlf []byte
	for range 5000 {
		mixed = append(line(mixed, r.IntN(81)), '\n')
		same = append(line(same, 11), '\n')
		crlf = append(line(crlf, r.IntN(12)), "\r\n"...)
	}
	for range 20 {
		long = append(line(long, r.IntN(3000)), '\n')
	}
	inputs["mixed"], inputs["same"], inputs["long"], inputs["crlf"] = mixed, same, long, crlf
	inputs["mixed-no-final-newline"] = mixed[:len(mixed)-1]
	inputs["no-newline"] = line(nil, 5000)
	defer func(old int) { hashEvery = old }(hashEvery)
	for _, every := range []int{hashEvery, 1, math.MaxInt} {
		hashEvery = every
		lsWholeLinesCase(t, r, inputs, every)
	}
}

func lsWholeLinesCase(t *testing.T, r *rand.Rand, inputs map[string][]byte, every int) {
	for name, data := range inputs {
		for _, cfg := range []LineConfig{{}, {BufferSize: 100}, {BufferSize: 4096, MaxBatchBytes: 1000}} {
			for _, max := range []int{1, 7, 1024, 5000} {
				t.Run(fmt.Sprintf("input=%s,buffer=%d,batchbytes=%d,max=%d,hashevery=%d", name, cfg.BufferSize, cfg.MaxBatchBytes, max, every), func(t *testing.T) {
					s := mustLineSource(t, &lsChunkReader{data: data, k: 1 + r.IntN(9000)}, cfg)
					got := lsKeys(lsDrain(t, s, max))
					want := lsRef(data)
					if !lsEqual(got, want) {
						t.Fatalf("got %d records, want %d", len(got), len(want))
					}
					if s.Lines() != int64(len(want)) || s.Offset() != int64(len(data)) || s.Bytes() != int64(len(data)) {
						t.Fatalf("Lines %d Offset %d Bytes %d; want %d, %d, %d", s.Lines(), s.Offset(), s.Bytes(), len(want), len(data), len(data))
					}
				})
			}
		}
	}
}

// FuzzLineSourceWhole is FuzzLineSource's first check for whole-line keys
// with buffers of 64 bytes and more, where the newline search works on
// 64-byte blocks; a repeat count turns the input into many short lines.
func FuzzLineSourceWhole(f *testing.F) {
	for _, s := range []string{"", "\n", "key-1\nkey-22\r\nkey-333\n", "a\r\r\n\n\x0b\n\x01", "x"} {
		f.Add([]byte(s), uint16(64), uint8(3), uint8(5), uint8(40))
	}
	f.Fuzz(func(t *testing.T, data []byte, buf uint16, chunk, max, repeat uint8) {
		data = bytes.Repeat(data, 1+int(repeat))
		cfg := LineConfig{BufferSize: 64 + int(buf%2048)}
		s, err := NewLineSource(&lsChunkReader{data: data, k: 1 + int(chunk)*7}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := lsDrainErr(s, 1+int(max)*9)
		if err != nil {
			t.Fatal(err)
		}
		want := lsRef(data)
		if keys := lsKeys(got); !lsEqual(keys, want) {
			t.Fatalf("%+v on %q: got %q, want %q", cfg, data, keys, want)
		}
		if s.Lines() != int64(len(want)) || s.Offset() != int64(len(data)) || s.Bytes() != int64(len(data)) {
			t.Fatalf("%q: Lines %d Offset %d Bytes %d; want %d, %d, %d", data, s.Lines(), s.Offset(), s.Bytes(), len(want), len(data), len(data))
		}
		// With a key cap and small batches: the capped keys, the same
		// count.
		cfg.MaxKeyLen, cfg.MaxBatchBytes = 1+int(chunk)%90, 1+int(buf)%300
		s, err = NewLineSource(&lsChunkReader{data: data, k: 1 + int(max)*5}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got, err = lsDrainErr(s, 1+int(repeat)*3); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			want[i] = string(AppendCappedKey(nil, []byte(want[i]), cfg.MaxKeyLen))
		}
		if keys := lsKeys(got); !lsEqual(keys, want) {
			t.Fatalf("%+v on %q: got %q, want %q", cfg, data, keys, want)
		}
	})
}
