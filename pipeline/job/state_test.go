package job

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sketch"
)

// FuzzDecodeWorkerState: a worker's checkpointed state decodes without
// panic to an error wrapping a sentinel, or to what encodes back to the
// input.
func FuzzDecodeWorkerState(f *testing.F) {
	c := Counts{Records: 300, Skipped: 2, Bad: 1, Bytes: 4096}
	enc := appendWorkerState(nil, workerState{c: c, items: []item{
		{kind: itemDrain, k: 0, size: 4096, sum: 7},
		{kind: itemRange, k: 1, start: 100, end: 5000},
		{kind: itemStream, k: 2, size: 1 << 20, pos: 333, sum: 0x0123456789abcdef, layers: []layer{
			{size: 4096, pos: []int64{10, -1, 0}, sums: []uint64{1, 2, 3}},
		}},
	}})
	f.Add(enc)
	f.Add(enc[:len(enc)-3])
	f.Add(appendWorkerState(nil, workerState{c: c}))
	f.Add([]byte{2, 0, 0, 0, 0, 0})
	f.Add([]byte{stateVersion, 0x80, 0x00, 0, 0, 0, 0})
	f.Add([]byte{stateVersion, 0, 0, 0, 0, 1, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeWorkerState(data)
		if err != nil {
			if !errors.Is(err, sketch.ErrTruncated) && !errors.Is(err, sketch.ErrCorrupt) && !errors.Is(err, sketch.ErrVersion) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if again := appendWorkerState(nil, st); !bytes.Equal(again, data) {
			t.Fatalf("decoded %+v re-encodes to %x, not %x", st, again, data)
		}
	})
}

// TestWorkerStateOldVersion: a state of an earlier version (a countedOp's
// prefix) is refused, saying so.
func TestWorkerStateOldVersion(t *testing.T) {
	for _, v := range []byte{1, 2} {
		if _, err := decodeWorkerState([]byte{v, 0, 0, 0, 0, 0}); !errors.Is(err, sketch.ErrVersion) {
			t.Errorf("version %d: %v, want ErrVersion", v, err)
		}
	}
}

// TestCountsAtBarrier: a worker's state holds its counters and position
// as they are when the barrier is injected (SourceState, between two
// Fills), and a fresh worker restored from it goes on with the records
// after, counting from those counters.
func TestCountsAtBarrier(t *testing.T) {
	data := numberedLines(5000, 10)
	newWorker := func() *worker {
		pl, err := newPlan(&Config{Stdin: strings.NewReader(data)}, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		w := pl.newWorkers(context.Background())[0]
		w.hashing = true
		return w
	}
	w := newWorker()
	var b pipeline.Batch
	fill := func(w *worker) error {
		b.Reset()
		return w.Fill(context.Background(), &b, 100)
	}
	if err := fill(w); err != nil {
		t.Fatal(err)
	}
	at := w.counts()
	state, err := w.SourceState()
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeWorkerState(state)
	if err != nil {
		t.Fatal(err)
	}
	if st.c != at || at.Records != 100 {
		t.Errorf("state holds %+v; want the counters at the barrier, %+v", st.c, at)
	}
	r := newWorker()
	if err := r.RestoreSource(state); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for {
		err := fill(r)
		for i := range b.Len() {
			keys = append(keys, string(b.Key(i)))
		}
		if err != nil {
			break
		}
	}
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")[100:]
	if len(keys) != len(lines) || keys[0] != lines[0] {
		t.Errorf("restored worker read %d records from %q; want %d from %q", len(keys), keys[0], len(lines), lines[0])
	}
	if c := r.counts(); c.Records != 5000 || c.Bytes != uint64(len(data)) {
		t.Errorf("restored worker's counters %+v", c)
	}
}

// TestResumeRefusesOldFormat: a checkpoint written before workers had
// state of their own (positions, and the counters inside the operator's
// part) is refused with ErrOtherJob, saying what to do, not read as if the
// counters were the operator's state.
func TestResumeRefusesOldFormat(t *testing.T) {
	data := numberedLines(2000, 10)
	dir := t.TempDir()
	cfg := func(resume bool) Config {
		return Config{Stdin: strings.NewReader(data), Workers: 2, NewOperator: newAllOp,
			Checkpoint: &CheckpointConfig{Dir: dir, Interval: time.Hour, Resume: resume}}
	}
	j, err := New(cfg(false)) // writes the job file
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	store, err := checkpoint.NewDirStore(dir, 0, func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	m := checkpoint.Manifest{ID: 1, Time: time.Now().UTC()}
	for _, name := range []string{"src-0", "src-1", "op-0-0", "op-0-1"} {
		p, err := store.WritePart(1, name, []byte{2, 0, 0, 0, 0, 0})
		if err != nil {
			t.Fatal(err)
		}
		m.Parts = append(m.Parts, p)
	}
	if err := store.Publish(m); err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg(true))
	if !errors.Is(err, ErrOtherJob) || !strings.Contains(err.Error(), "earlier version") {
		t.Errorf("old checkpoint: %v; want ErrOtherJob naming the version", err)
	}
}

// TestSetPosition: a worker set to another's position (a checkpoint's
// position alone, without the state) goes on with the records after it.
func TestSetPosition(t *testing.T) {
	data := numberedLines(3000, 10)
	newWorker := func() *worker {
		pl, err := newPlan(&Config{Stdin: strings.NewReader(data)}, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		return pl.newWorkers(context.Background())[0]
	}
	w := newWorker()
	var b pipeline.Batch
	if err := w.Fill(context.Background(), &b, 250); err != nil {
		t.Fatal(err)
	}
	pos := w.Position()
	if in, off, started := DecodePosition(pos); in != 0 || !started || off != int64(len(strings.Join(strings.SplitAfter(data, "\n")[:250], ""))) {
		t.Fatalf("position %d %d %v after 250 lines", in, off, started)
	}
	r := newWorker()
	if err := r.SetPosition(pos); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := r.Fill(context.Background(), &b, 1); err != nil {
		t.Fatal(err)
	}
	if got, want := string(b.Key(0)), strings.Split(data, "\n")[250]; got != want {
		t.Errorf("after SetPosition: %q, want %q", got, want)
	}
	if err := r.SetPosition(pos); err == nil {
		t.Error("SetPosition on a worker that has read: no error")
	}
}
