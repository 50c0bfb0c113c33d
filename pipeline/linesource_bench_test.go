package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// lsBenchData returns about size bytes of lines made by line.
func lsBenchData(size int, line func(r *rand.Rand, dst []byte) []byte) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 0, size+256)
	for len(data) < size {
		data = line(r, data)
		data = append(data, '\n')
	}
	return data
}

// lsWholeLine is the baseline's per-line work for whole-line keys.
func lsWholeLine(line []byte) uint64 { return xxhash.Sum64(line) }

// lsFieldsLine is the baseline's per-line work for key field 2 and value
// field 4, written the obvious way.
func lsFieldsLine(line []byte) uint64 {
	f := bytes.Fields(line)
	if len(f) < 4 {
		return 0
	}
	v, _ := strconv.ParseFloat(string(f[3]), 64)
	return xxhash.Sum64(f[1]) + uint64(v)
}

// lsZipfKey makes the lines of the end-to-end bench input: "key-N" with N
// drawn from a Zipf law with s = 1.1 over 10M ids, so 5 to 11 bytes, the
// length changing from line to line.
func lsZipfKey() func(r *rand.Rand, dst []byte) []byte {
	var z *rand.Zipf
	return func(r *rand.Rand, dst []byte) []byte {
		if z == nil {
			z = rand.NewZipf(r, 1.1, 1, 10_000_000-1)
		}
		return strconv.AppendUint(append(dst, "key-"...), z.Uint64(), 10)
	}
}

// BenchmarkLineSource reads the same in-memory input with a LineSource
// (keys and lines copied into a batch, keys hashed with xxhash) and, in the
// same run, with the usual baseline: bufio.Scanner with a 256 KiB buffer,
// xxhash.Sum64 of each line (or, with fields, bytes.Fields, ParseFloat and
// xxhash of the key field). MB/s is the LineSource's throughput;
// scanner-MB/s the baseline's; speedup = baseline time / LineSource time.
func BenchmarkLineSource(b *testing.B) {
	cases := []struct {
		name     string
		cfg      LineConfig
		baseline func([]byte) uint64
		line     func(r *rand.Rand, dst []byte) []byte
	}{
		{"short=user-N", LineConfig{}, lsWholeLine, func(r *rand.Rand, dst []byte) []byte {
			return strconv.AppendUint(append(dst, "user-"...), r.Uint64N(1_000_000), 10)
		}},
		{"zipf=key-N", LineConfig{}, lsWholeLine, lsZipfKey()},
		{"medium=url", LineConfig{}, lsWholeLine, func(r *rand.Rand, dst []byte) []byte {
			dst = append(dst, "https://example.com/catalog/item/"...)
			dst = strconv.AppendUint(dst, r.Uint64N(1_000_000), 10)
			return append(dst, "?ref=campaign-2024"...)
		}},
		{"field2+value4=log", LineConfig{Field: 2, ValueField: 4}, lsFieldsLine, func(r *rand.Rand, dst []byte) []byte {
			dst = append(dst, "2024-06-01T12:00:00Z user-"...)
			dst = strconv.AppendUint(dst, r.Uint64N(100_000), 10)
			dst = append(dst, " GET "...)
			return strconv.AppendFloat(dst, r.Float64()*100, 'f', 3, 64)
		}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			data := lsBenchData(8<<20, bc.line)
			br := bytes.NewReader(data)
			s, err := NewLineSource(br, bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			var batch Batch
			scanBuf := make([]byte, DefaultLineBuffer)
			var ours, theirs time.Duration
			var sink uint64
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				if err := s.SetPosition(0); err != nil {
					b.Fatal(err)
				}
				for {
					batch.Reset()
					err := s.Fill(context.Background(), &batch, DefaultBatchSize)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				ours += time.Since(start)

				start = time.Now()
				br.Reset(data)
				sc := bufio.NewScanner(br)
				sc.Buffer(scanBuf, len(scanBuf))
				for sc.Scan() {
					sink += bc.baseline(sc.Bytes())
				}
				theirs += time.Since(start)
			}
			_ = sink
			mb := float64(len(data)) * float64(b.N) / 1e6
			b.ReportMetric(mb/ours.Seconds(), "MB/s")
			b.ReportMetric(mb/theirs.Seconds(), "scanner-MB/s")
			b.ReportMetric(theirs.Seconds()/ours.Seconds(), "speedup")
			b.ReportMetric(float64(ours.Nanoseconds())/float64(s.Lines()), "ns/line")
		})
	}
}

// BenchmarkField splits a log line at whitespace and at a byte.
func BenchmarkField(b *testing.B) {
	line := []byte("2024-06-01T12:00:00Z user-12345 GET /index.html 200 0.25")
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		Field(line, 5, Whitespace)
		Field(line, 5, ByteDelimiter(' '))
	}
}

// BenchmarkHashLines hashes the keys of a batch with hashLines and, in the
// same run, with hashLinesSorted (the counting sort it replaced) and with
// xxhash.Sum64 key by key in line order; speedup-vs-sorted and speedup are
// their times over hashLines'.
func BenchmarkHashLines(b *testing.B) {
	cases := []struct {
		name string
		line func(r *rand.Rand, dst []byte) []byte
	}{
		{"zipf=key-N", lsZipfKey()},
		{"len=0..31", func(r *rand.Rand, dst []byte) []byte {
			return append(dst, "0123456789abcdefghijklmnopqrstuv"[:r.IntN(32)]...)
		}},
		{"short=user-N", func(r *rand.Rand, dst []byte) []byte {
			return strconv.AppendUint(append(dst, "user-"...), r.Uint64N(1_000_000), 10)
		}},
		{"one=11-bytes", func(r *rand.Rand, dst []byte) []byte {
			return strconv.AppendUint(append(dst, "key-"...), 1_000_000+r.Uint64N(9_000_000), 10)
		}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			data := lsBenchData(64<<10, bc.line)
			var batch Batch
			s, err := NewLineSource(bytes.NewReader(data), LineConfig{})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Fill(context.Background(), &batch, 1<<20); err != nil && err != io.EOF {
				b.Fatal(err)
			}
			recs := batch.Records
			var ours, sorted, theirs time.Duration
			var sink uint64
			var order [hashChunk]uint16
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				hashLines(recs, batch.arena, 0, s.lenScratch())
				ours += time.Since(start)
				start = time.Now()
				hashLinesSorted(recs, batch.arena, 0, &order)
				sorted += time.Since(start)
				start = time.Now()
				for i := range recs {
					sink += xxhash.Sum64(batch.Key(i))
				}
				theirs += time.Since(start)
			}
			_ = sink
			n := float64(b.N) * float64(len(recs))
			b.ReportMetric(float64(ours.Nanoseconds())/n, "ns/key")
			b.ReportMetric(float64(sorted.Nanoseconds())/n, "sorted-ns/key")
			b.ReportMetric(float64(theirs.Nanoseconds())/n, "xxhash-ns/key")
			b.ReportMetric(sorted.Seconds()/ours.Seconds(), "speedup-vs-sorted")
			b.ReportMetric(theirs.Seconds()/ours.Seconds(), "speedup")
		})
	}
}
