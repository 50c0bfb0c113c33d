package job

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// FuzzDecodeWorkerState: a worker's checkpointed state (counters and
// stream hash, or counters alone in version 1) decodes without panic to an
// error wrapping a sentinel, or to what encodes back to the input.
func FuzzDecodeWorkerState(f *testing.F) {
	c := Counts{Records: 300, Skipped: 2, Bad: 1, Bytes: 4096}
	enc := appendWorkerState(nil, workerState{c: c, sum: 0x0123456789abcdef, hasSum: true})
	v1 := appendWorkerState(nil, workerState{c: c})
	f.Add(append(enc, "operator state"...))
	f.Add(enc)
	f.Add(enc[:len(enc)-3])
	f.Add(v1)
	f.Add(append(v1, "operator state"...))
	f.Add([]byte{3, 0, 0, 0, 0, 0})
	f.Add([]byte{countsVersion, 0x80, 0x00, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, rest, err := decodeWorkerState(data)
		if err != nil {
			if !errors.Is(err, sketch.ErrTruncated) && !errors.Is(err, sketch.ErrCorrupt) && !errors.Is(err, sketch.ErrVersion) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if again := append(appendWorkerState(nil, st), rest...); !bytes.Equal(again, data) {
			t.Fatalf("decoded %+v re-encodes to %x, not %x", st, again, data)
		}
	})
}

// TestWorkerStateVersion1: a worker state without the stream hash
// (version 1) restores the counters and asks for no check.
func TestWorkerStateVersion1(t *testing.T) {
	c := Counts{Records: 10, Bytes: 70}
	st, rest, err := decodeWorkerState(append(appendWorkerState(nil, workerState{c: c}), 7))
	if err != nil || st.c != c || st.hasSum || !bytes.Equal(rest, []byte{7}) {
		t.Fatalf("got %+v, rest %v, %v", st, rest, err)
	}
}

// TestCountsAtBarrier: an operator's snapshot holds the worker's counters
// as they were when the barrier was injected (Position), not as they are
// when the snapshot is taken: behind a channel (shedding), the worker has
// read on by then.
func TestCountsAtBarrier(t *testing.T) {
	pl, err := newPlan(&Config{Stdin: strings.NewReader(numberedLines(5000, 10))}, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	w := pl.newWorkers(context.Background())[0]
	op := &countedOp{op: &pipeline.Distinct{}, w: w}
	var b pipeline.Batch
	fill := func() {
		b.Reset()
		if err := w.Fill(context.Background(), &b, 100); err != nil {
			t.Fatal(err)
		}
		op.Process(&b, nil)
	}
	fill()
	w.Position() // the barrier
	at := w.counts()
	fill() // the worker reads on before the operator's snapshot
	state, err := op.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := decodeWorkerState(state)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.c; c != at || w.counts() == at {
		t.Errorf("snapshot holds %+v; want the counters at the barrier, %+v (now %+v)", c, at, w.counts())
	}
}
