package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
	"github.com/streamstat/streamstat/sketch"
)

// numberedLines returns n lines "kA B", A cycling over keys.
func numberedLines(n, keys int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "k%d %d\n", i%keys, i%113)
	}
	return b.String()
}

// topCounts runs cfg with an exact TopK per worker and returns the merged
// counts by key.
func topCounts(t *testing.T, cfg Config) (map[string]uint64, *Job) {
	t.Helper()
	cfg.NewOperator = func(int) (pipeline.Operator, error) {
		tk, err := sketch.NewTopK(1 << 12)
		return &pipeline.HeavyHitters{TopK: tk}, err
	}
	j, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return queryTop(t, j), j
}

func queryTop(t *testing.T, j *Job) map[string]uint64 {
	t.Helper()
	got := map[string]uint64{}
	err := j.Query(func(_ int, op pipeline.Operator) error {
		for _, it := range op.(*pipeline.HeavyHitters).TopK.Top(1 << 12) {
			got[it.Key] += it.Count
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestJobCountsEveryLine: files and stdin, in any number of workers, in
// fixed shares or handed out on demand, are counted line for line.
func TestJobCountsEveryLine(t *testing.T) {
	a, b, in := numberedLines(3000, 40), numberedLines(5000, 70), numberedLines(4000, 20)
	want := map[string]uint64{}
	for _, data := range []string{a, b, in} {
		for _, line := range strings.Split(strings.TrimSuffix(data, "\n"), "\n") {
			key, _, _ := strings.Cut(line, " ")
			want[key]++
		}
	}
	fa, fb := writeTemp(t, "a", a), writeTemp(t, "b", b)
	for _, workers := range []int{1, 2, 3} {
		for _, unordered := range []bool{false, true} {
			t.Run(fmt.Sprintf("workers=%d,unordered=%v", workers, unordered), func(t *testing.T) {
				got, j := topCounts(t, Config{Inputs: []string{fa, "-", fb}, Stdin: strings.NewReader(in),
					Workers: workers, Unordered: unordered, ChunkSize: 1000, Line: pipeline.LineConfig{Field: 1}})
				if len(got) != len(want) {
					t.Fatalf("%d keys, want %d", len(got), len(want))
				}
				for k, n := range want {
					if got[k] != n {
						t.Fatalf("key %q: %d, want %d", k, got[k], n)
					}
				}
				c := j.Counts()
				if c.Records != 12000 || c.Bytes != uint64(len(a)+len(b)+len(in)) || j.Size() != -1 || j.Workers() != workers {
					t.Errorf("counts %+v, size %d, workers %d", c, j.Size(), j.Workers())
				}
				if ins := j.Inputs(); len(ins) != 3 || ins[0] != (Input{Name: fa, Size: int64(len(a))}) || ins[1] != (Input{Name: "stdin", Stream: true, Size: -1}) {
					t.Errorf("inputs %+v", ins)
				}
			})
		}
	}
}

func TestNewErrors(t *testing.T) {
	newOp := func(int) (pipeline.Operator, error) { return &pipeline.Distinct{}, nil }
	if _, err := New(Config{Workers: 0, NewOperator: newOp}); !errors.Is(err, pipeline.ErrInvalidGraph) {
		t.Errorf("no workers: %v", err)
	}
	if _, err := New(Config{Workers: 1}); !errors.Is(err, pipeline.ErrInvalidGraph) {
		t.Errorf("no operator: %v", err)
	}
	if _, err := New(Config{Workers: 1, NewOperator: newOp, Inputs: []string{"/nonexistent/x"}}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// gated is a reader of first, then, once gate is closed, rest; reached is
// closed when first is used up.
type gated struct {
	mu          sync.Mutex
	first, rest string
	reached     chan struct{}
	gate        chan struct{}
}

func newGated(first, rest string) *gated {
	return &gated{first: first, rest: rest, reached: make(chan struct{}), gate: make(chan struct{})}
}

func (g *gated) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.first != "" {
		n := copy(p, g.first)
		g.first = g.first[n:]
		if g.first == "" {
			close(g.reached)
		}
		return n, nil
	}
	<-g.gate
	if g.rest == "" {
		return 0, io.EOF
	}
	n := copy(p, g.rest)
	g.rest = g.rest[n:]
	return n, nil
}

// TestJobResume: a job with checkpoints stopped (ctx done) after half of a
// stream takes a last checkpoint; resumed with the same stream piped
// again, it gives the answer of an uninterrupted job; with another stream
// of the same length, or another identity, it refuses.
func TestJobResume(t *testing.T) {
	data := numberedLines(20000, 300)
	half := strings.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	want, _ := topCounts(t, Config{Stdin: strings.NewReader(data), Workers: 2, ChunkSize: 4096})
	dir := t.TempDir()
	ck := func(resume bool, identity string) *CheckpointConfig {
		return &CheckpointConfig{Dir: dir, Interval: 2 * time.Millisecond, Resume: resume, Identity: identity}
	}
	newOp := func(int) (pipeline.Operator, error) {
		tk, err := sketch.NewTopK(1 << 12)
		return &pipeline.HeavyHitters{TopK: tk}, err
	}

	stopStreamAt(t, Config{Workers: 2, ChunkSize: 4096, NewOperator: newOp, Checkpoint: ck(false, "top\n")}, data, half, int64(half))

	other := []byte(data)
	other[10] ^= 1
	unmergeable := func(int) (pipeline.Operator, error) {
		tk, err := sketch.NewTopK(1 << 12)
		return statefulOnly{&pipeline.HeavyHitters{TopK: tk}}, err
	}
	for _, tc := range []struct {
		name     string
		stdin    string
		identity string
		workers  int
		op       func(int) (pipeline.Operator, error)
		want     error
	}{
		{"other identity", data, "distinct\n", 2, newOp, ErrOtherJob},
		{"other workers, state that does not merge", data, "top\n", 3, unmergeable, ErrOtherJob},
		{"other stream", string(other), "top\n", 2, newOp, ErrOtherStream},
		{"other stream, other workers", string(other), "top\n", 3, newOp, ErrOtherStream},
		{"same stream", data, "top\n", 2, newOp, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := New(Config{Stdin: strings.NewReader(tc.stdin), Workers: tc.workers, ChunkSize: 4096, NewOperator: tc.op, Checkpoint: ck(true, tc.identity)})
			if err == nil {
				defer j.Close()
				err = j.Run(context.Background())
			}
			if !errors.Is(err, tc.want) || tc.want == nil && err != nil {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				return
			}
			got := queryTop(t, j)
			for k, n := range want {
				if got[k] != n {
					t.Fatalf("resumed: key %q: %d, want %d", k, got[k], n)
				}
			}
			if c := j.Counts(); c.Records != 20000 || c.Bytes != uint64(len(data)) {
				t.Errorf("resumed counts %+v", c)
			}
		})
	}
}

// statefulOnly is an operator whose state does not merge.
type statefulOnly struct{ *pipeline.HeavyHitters }

func (o statefulOnly) MergeBinary() {} // not pipeline.Mergeable's
