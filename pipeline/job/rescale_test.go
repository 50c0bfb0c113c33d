package job

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/internal/checkpointtest"
	"github.com/streamstat/streamstat/internal/envelope"
	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sampling"
	"github.com/streamstat/streamstat/sketch"
)

// allOp keeps one of each sketch a rescaled resume promises something
// about, and the exact count of every key, to check them against: an HLL,
// a plain count-min and a Bloom filter (byte-identical to an uninterrupted
// run), a top-k with fewer counters than keys and a reservoir (within
// their bounds). It is pipeline.Mergeable.
type allOp struct {
	hll   *sketch.HLL
	cm    *sketch.CountMin
	bloom *sketch.Bloom
	top   *sketch.TopK
	res   *sampling.Reservoir[string]
	exact map[string]uint64
	// delay, if set, slows each batch, so that a stop lands mid-file.
	delay time.Duration
}

const allOpSample = 50

func newAllOp(int) (pipeline.Operator, error) {
	o := &allOp{exact: map[string]uint64{}}
	o.hll, _ = sketch.NewHLL(12)
	o.cm, _ = sketch.NewCountMinWidthDepth(1024, 4)
	o.cm.SetConservative(false)
	o.bloom, _ = sketch.NewBloom(50000, 0.01)
	o.top, _ = sketch.NewTopK(256)
	o.res, _ = sampling.NewReservoir[string](allOpSample, 7)
	return o, nil
}

func (o *allOp) Process(in, _ *pipeline.Batch) error {
	for i := range in.Records {
		key, h := in.Key(i), in.Records[i].Hash
		o.hll.AddHash(h)
		o.cm.AddHash(h, 1)
		o.bloom.AddHash(h)
		o.top.AddHash(h, key, 1)
		o.res.Add(string(key))
		o.exact[string(key)]++
	}
	if o.delay > 0 {
		time.Sleep(o.delay)
	}
	return nil
}

// MarshalBinary writes each sketch with its length, then the exact counts.
func (o *allOp) MarshalBinary() ([]byte, error) {
	var out []byte
	for _, m := range []interface{ MarshalBinary() ([]byte, error) }{o.hll, o.cm, o.bloom, o.top, o.res} {
		b, err := m.MarshalBinary()
		if err != nil {
			return nil, err
		}
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	for _, k := range slices.Sorted(maps.Keys(o.exact)) {
		out = binary.AppendUvarint(out, uint64(len(k)))
		out = append(out, k...)
		out = binary.AppendUvarint(out, o.exact[k])
	}
	return out, nil
}

func (o *allOp) UnmarshalBinary(data []byte) error {
	r := envelope.NewReader(data)
	for _, u := range []interface{ UnmarshalBinary([]byte) error }{o.hll, o.cm, o.bloom, o.top, o.res} {
		b := r.Bytes(int(r.Uvarint()))
		if r.Err != nil {
			return r.Err
		}
		if err := u.UnmarshalBinary(b); err != nil {
			return err
		}
	}
	clear(o.exact)
	for r.Len() > 0 && r.Err == nil {
		k := string(r.Bytes(int(r.Uvarint())))
		o.exact[k] = r.Uvarint()
	}
	return r.Err
}

func (o *allOp) MergeBinary(data []byte) error {
	op, _ := newAllOp(0)
	p := op.(*allOp)
	if err := p.UnmarshalBinary(data); err != nil {
		return err
	}
	for k, n := range p.exact {
		o.exact[k] += n
	}
	for _, err := range []error{o.hll.Merge(p.hll), o.cm.Merge(p.cm), o.bloom.Merge(p.bloom), o.top.Merge(p.top), o.res.Merge(p.res)} {
		if err != nil {
			return err
		}
	}
	return nil
}

// mergedAll merges a job's allOps.
func mergedAll(t *testing.T, j *Job) *allOp {
	t.Helper()
	op, _ := newAllOp(0)
	all := op.(*allOp)
	err := j.Query(func(_ int, op pipeline.Operator) error {
		b, err := op.(*allOp).MarshalBinary()
		if err != nil {
			return err
		}
		return all.MergeBinary(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func encoded(t *testing.T, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkAll compares the merged answer of a resumed job with an
// uninterrupted one's: the exact counts and the HLL, count-min and Bloom
// bytes equal; every top-k count within its bounds of the exact count; the
// sample as large as promised, of records of the input, over them all.
func checkAll(t *testing.T, got, want *allOp, records uint64) {
	t.Helper()
	if !maps.Equal(got.exact, want.exact) {
		var lost, twice int
		for k, n := range want.exact {
			if got.exact[k] < n {
				lost++
			} else if got.exact[k] > n {
				twice++
			}
		}
		t.Fatalf("exact counts differ: %d keys short, %d over", lost, twice)
	}
	for _, c := range []struct {
		name      string
		got, want interface{ MarshalBinary() ([]byte, error) }
	}{{"HLL", got.hll, want.hll}, {"count-min", got.cm, want.cm}, {"Bloom", got.bloom, want.bloom}} {
		if !bytes.Equal(encoded(t, c.got), encoded(t, c.want)) {
			t.Errorf("%s differs from an uninterrupted run's", c.name)
		}
	}
	top := got.top.Top(256)
	if len(top) == 0 {
		t.Error("empty top-k")
	}
	for _, it := range top {
		if n := got.exact[it.Key]; n < it.Lower || n > it.Upper {
			t.Errorf("top-k %q: count %d in [%d, %d]; exact %d", it.Key, it.Count, it.Lower, it.Upper, n)
		}
	}
	sample := got.res.Sample()
	if got.res.Count() != records || len(sample) != allOpSample {
		t.Errorf("sample of %d over %d records; want %d over %d", len(sample), got.res.Count(), allOpSample, records)
	}
	for _, k := range sample {
		if got.exact[k] == 0 {
			t.Errorf("sampled %q, not in the input", k)
		}
	}
}

// copyDir copies checkpoint directory src to a new one.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := os.CopyFS(dst, os.DirFS(src))
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// coveredIn returns the bytes of input k the newest checkpoint in dir
// accounts for, over all workers.
func coveredIn(dir string, k int) int64 {
	ps, err := checkpointtest.Positions(dir)
	if err != nil {
		return -1
	}
	var sum int64
	for _, p := range ps {
		if in, off, started := DecodePosition(p); in == k && started {
			sum += off
		}
	}
	return sum
}

// stopStreamAt runs a job with checkpoints over a stdin that pauses after
// data[:at], waits for a checkpoint holding covered bytes of it (the
// stream's bytes not counted before the job, up to at), and stops the job.
func stopStreamAt(t *testing.T, cfg Config, data string, at int, covered int64) {
	t.Helper()
	g := newGated(data[:at], data[at:])
	cfg.Stdin = g
	j, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	<-g.reached
	for deadline := time.Now().Add(60 * time.Second); coveredIn(cfg.Checkpoint.Dir, 0) != covered; {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of %d bytes (%d)", covered, coveredIn(cfg.Checkpoint.Dir, 0))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil || j.FinalCheckpoint() == 0 {
		t.Fatalf("stopped job: %v, final checkpoint %d; want an error and a checkpoint", err, j.FinalCheckpoint())
	}
	j.Close()
	close(g.gate)
}

// runAll runs cfg with allOps to its end and returns their merge; the
// checks of a restored checkpoint must all have passed.
func runAll(t *testing.T, cfg Config) (*allOp, Counts) {
	t.Helper()
	cfg.NewOperator = newAllOp
	j, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !j.pl.verify.done() {
		t.Errorf("the job ended with %d checks of its restored checkpoint not passed", j.pl.verify.left.Load())
	}
	return mergedAll(t, j), j.Counts()
}

// TestRescaleStream: a job over stdin checkpointed with 2 workers resumes
// with 1 and with 3 (the stream piped again): HLL, count-min and Bloom are
// byte-identical to an uninterrupted run's, top-k and the sample within
// their bounds, every record counted once; a checkpoint of the 3-worker
// run, taken further on, resumes with 1 (two rescales of one stream).
func TestRescaleStream(t *testing.T) {
	data := numberedLines(40000, 3000)
	half := strings.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	more := strings.IndexByte(data[3*len(data)/4:], '\n') + 3*len(data)/4 + 1
	want, _ := runAll(t, Config{Stdin: strings.NewReader(data), Workers: 2, ChunkSize: 4096})
	dir := t.TempDir()
	cfg := func(dir string, workers int, resume bool) Config {
		return Config{Workers: workers, ChunkSize: 4096, NewOperator: newAllOp,
			Checkpoint: &CheckpointConfig{Dir: dir, Interval: 2 * time.Millisecond, Resume: resume}}
	}
	stopStreamAt(t, cfg(dir, 2, false), data, half, int64(half))
	for _, m := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("2 to %d", m), func(t *testing.T) {
			c := cfg(copyDir(t, dir), m, true)
			c.Stdin = strings.NewReader(data)
			got, counts := runAll(t, c)
			if counts.Records != 40000 || counts.Bytes != uint64(len(data)) {
				t.Errorf("counts %+v", counts)
			}
			checkAll(t, got, want, 40000)
		})
	}
	for _, last := range []int{1, 3} {
		t.Run(fmt.Sprintf("2 to 3 to %d", last), func(t *testing.T) {
			d := copyDir(t, dir)
			// The 3 workers' views are of what the 2 had left: data[half:].
			stopStreamAt(t, cfg(d, 3, true), data, more, int64(more-half))
			c := cfg(d, last, true)
			c.Stdin = strings.NewReader(data)
			got, counts := runAll(t, c)
			if counts.Records != 40000 || counts.Bytes != uint64(len(data)) {
				t.Errorf("counts %+v", counts)
			}
			checkAll(t, got, want, 40000)
		})
	}
	t.Run("other stream", func(t *testing.T) {
		other := []byte(data)
		other[len(data)/3] ^= 1
		c := cfg(copyDir(t, dir), 3, true)
		c.Stdin = bytes.NewReader(other)
		c.NewOperator = newAllOp
		j, err := New(c)
		if err == nil {
			defer j.Close()
			err = j.Run(context.Background())
		}
		if !errors.Is(err, ErrOtherStream) {
			t.Errorf("other stream resumed with 3 workers: %v, want ErrOtherStream", err)
		}
	})
}

// TestRescaleFiles: a job over two files stopped mid-file with 2 workers
// resumes with 1 and with 3: each worker's unread ranges are cut anew, and
// its checkpoints are not held back (files are checked by New).
func TestRescaleFiles(t *testing.T) {
	a := writeTemp(t, "a.txt", numberedLines(30000, 2500))
	b := writeTemp(t, "b.txt", numberedLines(10000, 700))
	inputs := []string{a, b}
	want, _ := runAll(t, Config{Inputs: inputs, Workers: 2})
	dir := t.TempDir()
	slow := func(int) (pipeline.Operator, error) {
		op, err := newAllOp(0)
		op.(*allOp).delay = 200 * time.Microsecond
		return op, err
	}
	j, err := New(Config{Inputs: inputs, Workers: 2, NewOperator: slow, Line: pipeline.LineConfig{},
		Checkpoint: &CheckpointConfig{Dir: dir, Interval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	for deadline := time.Now().Add(60 * time.Second); j.Counts().Records < 8000; {
		if time.Now().After(deadline) {
			t.Fatal("the job did not get going")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	j.Close()
	if j.FinalCheckpoint() == 0 {
		t.Fatal("no final checkpoint")
	}
	if c := coveredIn(dir, 0); c <= 0 {
		t.Fatalf("checkpoint not in the middle of the first file: %d", c)
	}
	for _, m := range []int{1, 3} {
		t.Run(fmt.Sprintf("2 to %d", m), func(t *testing.T) {
			// New recognized the files by identity: the resumed job has
			// nothing left to check before it takes checkpoints.
			j, err := New(Config{Inputs: inputs, Workers: m, NewOperator: newAllOp,
				Checkpoint: &CheckpointConfig{Dir: copyDir(t, dir), Resume: true}})
			if err != nil {
				t.Fatal(err)
			}
			if !j.pl.verify.done() || j.cp.restored == 0 {
				t.Errorf("resumed files from checkpoint %d: %d checks left, want none", j.cp.restored, j.pl.verify.left.Load())
			}
			j.Close()
			got, counts := runAll(t, Config{Inputs: inputs, Workers: m,
				Checkpoint: &CheckpointConfig{Dir: copyDir(t, dir), Interval: time.Hour, Resume: true}})
			if counts.Records != 40000 {
				t.Errorf("counts %+v", counts)
			}
			checkAll(t, got, want, 40000)
		})
	}
}

// TestRescaleFileRanges: the ranges a rescale deals hold exactly the
// unread parts of the old workers' ranges, each cut at line starts.
func TestRescaleFileRanges(t *testing.T) {
	data := numberedLines(5000, 100)
	path := writeTemp(t, "f.txt", data)
	pl, err := newPlan(&Config{Inputs: []string{path}}, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.close()
	w := pl.newWorkers(context.Background())
	// Worker 0 read up to a line start inside its range; worker 1 nothing.
	r0, r1 := pl.inputs[0].ranges[0], pl.inputs[0].ranges[1]
	mid := int64(strings.IndexByte(data[r0.End/2:], '\n')) + r0.End/2 + 1
	old := [][]byte{
		appendWorkerState(nil, workerState{items: []item{{kind: itemRange, start: mid, end: r0.End}}}),
		appendWorkerState(nil, workerState{items: []item{{kind: itemRange, start: r1.Start, end: r1.End}}}),
	}
	states, err := w[0].RedealSources(old, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range states {
		st, err := decodeWorkerState(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range st.items {
			if it.start > 0 && data[it.start-1] != '\n' {
				t.Errorf("range [%d, %d) starts inside a line", it.start, it.end)
			}
			got = append(got, fmt.Sprintf("%d-%d", it.start, it.end))
		}
	}
	slices.SortFunc(got, func(a, b string) int {
		var x, y int64
		fmt.Sscanf(a, "%d", &x)
		fmt.Sscanf(b, "%d", &y)
		return int(x - y)
	})
	// Contiguous from mid to r0.End, and over r1.
	joined := strings.Join(got, ",")
	var prev int64 = mid
	for _, g := range got {
		var s, e int64
		fmt.Sscanf(g, "%d-%d", &s, &e)
		if s != prev && !(prev == r0.End && s == r1.Start) {
			t.Fatalf("ranges %s leave a gap or overlap at %d", joined, prev)
		}
		prev = e
	}
	if prev != r1.End {
		t.Errorf("ranges %s end at %d, want %d", joined, prev, r1.End)
	}
	if len(got) < 5 {
		t.Errorf("ranges %s: want each old range cut in 3", joined)
	}
}
