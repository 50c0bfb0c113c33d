package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/streamstat/streamstat/internal/cputime"
)

// benchRegs is the sink of BenchmarkLineSourceKeyLengths: the registers
// of a dense HLL at precision 14, updated as the CLI's distinct does.
type benchRegs [1 << 14]uint8

func (g *benchRegs) add(x uint64) {
	r := uint8(bits.LeadingZeros64(x<<14|1<<13)) + 1
	if j := x >> 50; r > g[j] {
		g[j] = r
	}
}

// BenchmarkLineSourceKeyLengths reads lines of keys of one length, or of
// lengths uniform in [L/2, 3L/2] ("mixed"), with a LineSource (whole-line
// keys, HashOnly as the CLI's distinct reads them, DefaultBatchSize
// batches, each record's hash into the registers of a dense HLL) and, in the same run, with the naive loop of
// cmd/streamstat/internal/naive (bufio.Reader.ReadSlice, xxhash.Sum64 of
// the line, the same registers), from the same in-memory bytes. ratio is
// the LineSource's time over the naive loop's, cpu-ratio the same in CPU
// time (both run on the benchmark's goroutine, so they agree unless the
// machine is busy).
func BenchmarkLineSourceKeyLengths(b *testing.B) {
	for _, l := range []int{4, 8, 16, 32, 64, 128} {
		for _, mixed := range []bool{false, true} {
			name := fmt.Sprintf("len=%d", l)
			if mixed {
				name = fmt.Sprintf("len=%d..%d", l/2, l+l/2)
			}
			b.Run(name, func(b *testing.B) {
				benchKeyLengths(b, lsKeyLengthData(16<<20, l, mixed))
			})
		}
	}
}

// lsKeyLengthData is size bytes of lines of random letters, l a line or,
// if mixed, uniform in [l/2, 3l/2].
func lsKeyLengthData(size, l int, mixed bool) []byte {
	return lsBenchData(size, func(r *rand.Rand, dst []byte) []byte {
		n := l
		if mixed {
			n = l/2 + r.IntN(l+1)
		}
		for range n {
			dst = append(dst, 'a'+byte(r.IntN(26)))
		}
		return dst
	})
}

func benchKeyLengths(b *testing.B, data []byte) {
	br := bytes.NewReader(data)
	s, err := NewLineSource(br, LineConfig{HashOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	var regs benchRegs
	var batch Batch
	var ours, theirs, oursCPU, theirsCPU time.Duration
	lines := bytes.Count(data, []byte{'\n'})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		start, c0 := time.Now(), cputime.Process()
		if err := s.SetPosition(0); err != nil {
			b.Fatal(err)
		}
		for {
			batch.Reset()
			err := s.Fill(context.Background(), &batch, DefaultBatchSize)
			for i := range batch.Records {
				regs.add(batch.Records[i].Hash)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		ours += time.Since(start)
		oursCPU += cputime.Process() - c0

		start, c0 = time.Now(), cputime.Process()
		br.Reset(data)
		rd := bufio.NewReaderSize(br, 64<<10)
		for {
			line, err := rd.ReadSlice('\n')
			if len(line) > 0 {
				if line[len(line)-1] == '\n' {
					line = line[:len(line)-1]
				}
				regs.add(xxhash.Sum64(line))
			}
			if errors.Is(err, io.EOF) {
				break
			}
		}
		theirs += time.Since(start)
		theirsCPU += cputime.Process() - c0
	}
	n := float64(b.N) * float64(lines)
	b.ReportMetric(float64(ours.Nanoseconds())/n, "ns/line")
	b.ReportMetric(float64(theirs.Nanoseconds())/n, "naive-ns/line")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), "ratio")
	if cputime.Available {
		b.ReportMetric(oursCPU.Seconds()/theirsCPU.Seconds(), "cpu-ratio")
	}
}
