package pipeline_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sketch"
)

// offsetsSource reads several partitions (here: lists of keys) in turn,
// one key from each, and keeps the next offset of every partition: state
// a single position cannot hold, as a Kafka source's offsets. With
// crashAt set, it takes a checkpoint after that many keys and then fails.
type offsetsSource struct {
	parts   [][]string
	next    []uint64
	turn    int
	sent    int
	crashAt int
	p       *pipeline.Pipeline
}

var errCrash = errors.New("crash")

func (s *offsetsSource) Fill(_ context.Context, b *pipeline.Batch, max int) error {
	if s.crashAt > 0 && s.sent == s.crashAt {
		// A checkpoint now, then the crash once it is saved.
		if st := s.p.CheckpointStats(); st.Completed == 0 {
			if !st.InProgress {
				s.p.Checkpoint()
			}
			return nil
		}
		return errCrash
	}
	for b.Len() < max && (s.crashAt == 0 || s.sent < s.crashAt) {
		left := false
		for i := range s.parts {
			p := (s.turn + i) % len(s.parts)
			if s.next[p] < uint64(len(s.parts[p])) {
				b.Add([]byte(s.parts[p][s.next[p]]))
				s.next[p]++
				s.turn, left = p+1, true
				s.sent++
				break
			}
		}
		if !left {
			return io.EOF
		}
	}
	return nil
}

// SourceState is the next offset of every partition, as uvarints.
func (s *offsetsSource) SourceState() ([]byte, error) {
	var out []byte
	for _, n := range s.next {
		out = binary.AppendUvarint(out, n)
	}
	return out, nil
}

func (s *offsetsSource) RestoreSource(state []byte) error {
	for p := range s.next {
		n, k := binary.Uvarint(state)
		if k <= 0 || n > uint64(len(s.parts[p])) {
			return fmt.Errorf("offsets source: partition %d: %w", p, sketch.ErrCorrupt)
		}
		s.next[p], state = n, state[k:]
	}
	return nil
}

// A StatefulSource checkpoints bytes rather than one position: here the
// offsets of three partitions. A pipeline restored from the checkpoint
// gives a fresh source its offsets back, and it reads on from each: no
// key is lost or counted twice.
func ExampleStatefulSource() {
	dir, err := os.MkdirTemp("", "offsets")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	store, err := checkpoint.NewDirStore(dir, 0, nil)
	if err != nil {
		panic(err)
	}
	build := func(crashAt int) (*pipeline.Pipeline, *offsetsSource) {
		src := &offsetsSource{crashAt: crashAt, next: make([]uint64, 3)}
		for _, p := range []string{"a b c d", "e f", "g h i"} {
			src.parts = append(src.parts, strings.Fields(p))
		}
		p, err := pipeline.New([]pipeline.Source{src}, []pipeline.Stage{{Name: "count", New: func(int) (pipeline.Operator, error) {
			return &pipeline.Frequency{CM: new(sketch.CountMin)}, nil
		}}}, pipeline.Config{BatchSize: 2, Checkpoint: &pipeline.CheckpointConfig{Store: store}})
		if err != nil {
			panic(err)
		}
		src.p = p
		return p, src
	}
	first, _ := build(4)
	fmt.Println("first run:", first.Run(context.Background()))

	second, src := build(0)
	m, err := second.Restore(store)
	if err != nil {
		panic(err)
	}
	fmt.Println("restored checkpoint", m.ID, "offsets", src.next)
	if err := second.Run(context.Background()); err != nil {
		panic(err)
	}
	var counts []string
	second.Query(0, func(_ int, op pipeline.Operator) error {
		for _, k := range "abcdefghi" {
			counts = append(counts, fmt.Sprintf("%c=%g", k, op.(*pipeline.Frequency).CM.EstimateString(string(k)).Value))
		}
		return nil
	})
	fmt.Println(strings.Join(counts, " "))
	// Output:
	// first run: pipeline: source 0: crash
	// restored checkpoint 1 offsets [2 1 1]
	// a=1 b=1 c=1 d=1 e=1 f=1 g=1 h=1 i=1
}
