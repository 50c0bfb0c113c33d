package job

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/streamstat/streamstat/internal/testio"
	"github.com/streamstat/streamstat/pipeline"
)

// collect runs a stream and returns, per worker, the chunks it was dealt.
func collect(t *testing.T, r io.Reader, workers int, chunk int64, buf int) [][]string {
	t.Helper()
	return collectFramed(t, r, workers, chunk, buf, pipeline.FrameLines)
}

// collectFramed is collect for records of framing f.
func collectFramed(t *testing.T, r io.Reader, workers int, chunk int64, buf int, f pipeline.Framing) [][]string {
	t.Helper()
	s := newStream("test", r, workers, false, chunk, buf, f)
	ctx := context.Background()
	s.start(ctx)
	got := make([][]string, workers)
	// Take chunks in global order (worker j%W), as the workers would
	// together; a worker reading ahead would only block on its queue.
	for j := 0; ; j++ {
		ch, ok := <-s.queues[j%workers]
		if !ok {
			break
		}
		var b bytes.Buffer
		for p := range ch.pieces {
			b.Write(p.data)
			p.buf.release()
		}
		got[j%workers] = append(got[j%workers], b.String())
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	return got
}

// TestStreamChunksIndependentOfReads: the chunks, and so what each worker
// sees, depend only on the bytes, not on how the reads split them.
func TestStreamChunksIndependentOfReads(t *testing.T) {
	var in strings.Builder
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		fmt.Fprintf(&in, "%s\n", strings.Repeat("k", rng.IntN(40)))
		if i%500 == 0 {
			in.WriteString(strings.Repeat("L", 300) + "\n") // longer than a chunk
		}
	}
	in.WriteString("last line without newline")
	data := in.String()
	const chunk, workers = 64, 3
	want := collect(t, strings.NewReader(data), workers, chunk, 1024)
	readers := map[string]func() io.Reader{
		"one byte":  func() io.Reader { return iotest.OneByteReader(strings.NewReader(data)) },
		"half":      func() io.Reader { return iotest.HalfReader(strings.NewReader(data)) },
		"data+EOF":  func() io.Reader { return iotest.DataErrReader(strings.NewReader(data)) },
		"random":    func() io.Reader { return testio.RandomReader([]byte(data), rand.New(rand.NewPCG(3, 4))) },
		"tiny bufs": func() io.Reader { return strings.NewReader(data) },
	}
	for name, r := range readers {
		buf := 1024
		if name == "tiny bufs" {
			buf = 5
		}
		got := collect(t, r(), workers, chunk, buf)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: chunks differ", name)
		}
	}
	// Every chunk ends with a newline (but the last), starts a line, and
	// is at least chunk bytes long (but the last); together they are the
	// input.
	var all []string
	for j := 0; ; j++ {
		w := want[j%workers]
		if j/workers >= len(w) {
			break
		}
		all = append(all, w[j/workers])
	}
	if strings.Join(all, "") != data {
		t.Fatal("chunks do not add up to the input")
	}
	for j, c := range all[:len(all)-1] {
		if !strings.HasSuffix(c, "\n") || len(c) < chunk || strings.Contains(c[chunk-1:len(c)-1], "\n") {
			t.Errorf("chunk %d (%d bytes) is not cut at the first newline from byte %d", j, len(c), chunk-1)
		}
	}
}

// TestStreamDynamic: dealt on demand, the chunks still add up to the
// input.
func TestStreamDynamic(t *testing.T) {
	data := strings.Repeat("abc\nde\n\n", 1000)
	s := newStream("test", strings.NewReader(data), 4, true, 32, 100, pipeline.FrameLines)
	s.start(context.Background())
	var b strings.Builder
	for ch := range s.queue(2) {
		for p := range ch.pieces {
			b.Write(p.data)
			p.buf.release()
		}
	}
	if b.String() != data {
		t.Error("chunks do not add up to the input")
	}
}

// TestTopDeterministicOnStdin: top's answer, including the bounds of
// counts that the sketch had to estimate, is the same on every run from a

// TestStreamCSVChunksAtRecordStarts: a CSV stream is cut only at record
// ends (a quoted field's newlines are no cut), whatever the reads, and with
// FrameCSVHeader the header (after blank lines) is dealt to no worker.
func TestStreamCSVChunksAtRecordStarts(t *testing.T) {
	var in strings.Builder
	in.WriteString("\n\"na\nme\",v\n")
	rng := rand.New(rand.NewPCG(3, 4))
	var recs []string
	for i := range 3000 {
		rec := fmt.Sprintf("\"k%d\n%s\",\"a,\"\"b\"\"\"\r\n", i, strings.Repeat("\n", rng.IntN(3)))
		recs = append(recs, rec)
		in.WriteString(rec)
	}
	data := in.String()
	header := len("\n\"na\nme\",v\n")
	for _, tc := range []struct {
		name    string
		framing pipeline.Framing
		want    string
	}{
		{"csv", pipeline.FrameCSV, data},
		{"header", pipeline.FrameCSVHeader, data[header:]},
	} {
		for _, buf := range []int{1, 7, 1024} {
			got := collectFramed(t, iotest.OneByteReader(strings.NewReader(data)), 3, 50, buf, tc.framing)
			var all strings.Builder
			for j := 0; ; j++ {
				w := got[j%3]
				if len(w) <= j/3 {
					break
				}
				c := w[j/3]
				all.WriteString(c)
				// Every chunk holds whole records: an even number of
				// quotes, ending at a newline.
				if strings.Count(c, `"`)%2 != 0 || !strings.HasSuffix(c, "\n") {
					t.Fatalf("%s buf %d: chunk %d cut inside a record: %q", tc.name, buf, j, c)
				}
			}
			if all.String() != tc.want {
				t.Fatalf("%s buf %d: chunks do not add up to the input (%d bytes, want %d)", tc.name, buf, all.Len(), len(tc.want))
			}
		}
	}
}

// TestStreamBuffersOnDemand: a stream makes its read buffers as its
// reader needs them, never more than the pool holds: a short input makes
// one (all of them were made up front, 4 MiB, which cost every run on
// stdin a garbage collection and a thousand page faults), a long one read
// ahead of slow workers stops at the pool's size, which grows with the
// workers from minBuffers to streamBuffers. (A short input may take a
// second one for the read that returns io.EOF while its bytes are still
// held.)
func TestStreamBuffersOnDemand(t *testing.T) {
	long := strings.Repeat("0123456789abcde\n", 1<<14)
	for _, tc := range []struct {
		name     string
		in       string
		workers  int
		bufSize  int
		min, max int
	}{
		{"short", "a\nb\n", 2, defaultReadBuf, 1, 2},
		{"empty", "", 2, defaultReadBuf, 1, 1},
		{"long,workers=1", long, 1, 64, minBuffers, minBuffers},
		{"long,workers=2", long, 2, 64, minBuffers, minBuffers},
		{"long,workers=4", long, 4, 64, 10, 10},
		{"long,workers=12", long, 12, 64, streamBuffers, streamBuffers},
		// Past 14 workers the pool holds 2 more buffers than the
		// workers (poolSize); the chunk queue keeps this reader to 21.
		{"long,workers=64", long, 64, 64, streamBuffers, 66},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStream("test", strings.NewReader(tc.in), tc.workers, true, 256, tc.bufSize, pipeline.FrameLines)
			s.start(context.Background())
			var got strings.Builder
			// Take every chunk, holding its pieces until its end, as a
			// slow worker would, so the reader runs ahead as far as the
			// pool lets it.
			for ch := range s.queues[0] {
				var held []piece
				for p := range ch.pieces {
					got.Write(p.data)
					held = append(held, p)
				}
				for _, p := range held {
					p.buf.release()
				}
			}
			if got.String() != tc.in {
				t.Fatalf("the chunks hold %d bytes, want the input's %d", got.Len(), len(tc.in))
			}
			if s.made < tc.min || s.made > tc.max {
				t.Errorf("%d read buffers made, want %d to %d", s.made, tc.min, tc.max)
			}
			if len(s.pool) != s.made {
				t.Errorf("%d of the %d buffers made are back in the pool", len(s.pool), s.made)
			}
		})
	}
}

// TestPoolSize: a stream's pool holds 2 buffers a worker plus 2, from 6
// to 16, and always 2 more than the workers, who may each hold one while
// they wait for the stream (TestStreamManyWorkersNoDeadlock).
func TestPoolSize(t *testing.T) {
	for _, tc := range []struct{ workers, want int }{
		{1, 6}, {2, 6}, {4, 10}, {7, 16}, {14, 16}, {15, 17}, {16, 18}, {64, 66},
	} {
		if got := poolSize(tc.workers); got != tc.want {
			t.Errorf("poolSize(%d) = %d, want %d", tc.workers, got, tc.want)
		}
	}
}

// TestStreamShortInputAllocs: a job over a short stdin allocates far less
// than the 4 MiB of read buffers every stream made before it read a byte
// (5.3 MiB in all before; 1.3 MiB now, most of it the two LineSources'
// buffers).
func TestStreamShortInputAllocs(t *testing.T) {
	run := func() {
		j, err := New(Config{
			Inputs: []string{"-"}, Stdin: strings.NewReader("a\nb\nc\n"), Workers: 2, Unordered: true,
			NewOperator: func(int) (pipeline.Operator, error) { return &pipeline.Distinct{}, nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if err := j.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	run() // warm: pools, lazily made state
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 2<<20 {
		t.Errorf("a job over 6 bytes of stdin allocated %d bytes, want under 2 MiB (a read buffer is %d)", got, defaultReadBuf)
	}
}

// TestStreamManyWorkersNoDeadlock: a run on a long stdin ends whatever
// the number of workers. A worker whose last Fill came up short waits for
// the stream's next bytes (so that a checkpoint can wake it) still
// holding the read buffer its source borrowed (pipeline.Lender: the loan
// ends at the next Lend), so with as many workers as the pool has buffers
// every buffer could be lent to a waiting worker and the reader had none
// to read into: cat FILE | streamstat distinct -j 16 (or -j 0 on 16
// CPUs) hung, with 16 buffers at most. The pool now holds a buffer more
// than the workers can borrow.
func TestStreamManyWorkersNoDeadlock(t *testing.T) {
	var in strings.Builder
	for i := range 200_000 {
		fmt.Fprintf(&in, "key-%d-%s\n", i%50_000, strings.Repeat("x", i%40))
	}
	for _, workers := range []int{2, 15, 16, 24, 70} {
		for _, unordered := range []bool{true, false} {
			t.Run(fmt.Sprintf("workers=%d,unordered=%v", workers, unordered), func(t *testing.T) {
				// The deadline only turns a deadlock into a failure; a
				// run takes well under a second.
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				j, err := New(Config{
					// Short reads, as from a pipe written slowly: the
					// workers' Fills come up short and wait.
					Inputs: []string{"-"}, Stdin: iotest.HalfReader(strings.NewReader(in.String())),
					Workers: workers, Unordered: unordered, ReadBuffer: 1000, ChunkSize: 4000,
					NewOperator: func(int) (pipeline.Operator, error) { return &pipeline.Distinct{}, nil },
				})
				if err != nil {
					t.Fatal(err)
				}
				defer j.Close()
				if err := j.Run(ctx); err != nil {
					t.Fatalf("%v (deadlocked?)", err)
				}
				if got := j.Counts().Records; got != 200_000 {
					t.Errorf("%d records, want 200000", got)
				}
			})
		}
	}
}
