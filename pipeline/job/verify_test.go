package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// dirListing lists the files under dir with their contents in hex, one a
// line, so that two listings compare equal only if no checkpoint was
// added, removed or rewritten.
func dirListing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fmt.Fprintf(&b, "%s %x\n", rel, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestResumeHoldsCheckpoints: a job resumed from a 2-worker checkpoint of
// stdin, with 1, 2 or 3 workers, whose stream stalls before its skipped
// bytes are all read (so that nothing is verified yet), takes no
// checkpoint over many intervals nor when asked for one; then, whether
// the stream turns out to be another one (ErrOtherStream) or the same, or
// the job is stopped before that (no last checkpoint), a failed or
// stopped resume leaves the checkpoint directory byte for byte as it was,
// and a resume of the right stream from it gives an uninterrupted run's
// answer (with 2 workers, every sketch byte-identical). A correct resume
// has passed all its checks when it ends.
func TestResumeHoldsCheckpoints(t *testing.T) {
	data := numberedLines(20000, 300)
	half := strings.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	want, _ := runAll(t, Config{Stdin: strings.NewReader(data), Workers: 2, ChunkSize: 4096})
	dir := t.TempDir()
	const interval = 2 * time.Millisecond
	cfg := func(dir string, workers int) Config {
		return Config{Workers: workers, ChunkSize: 4096, NewOperator: newAllOp,
			Checkpoint: &CheckpointConfig{Dir: dir, Interval: interval, Resume: true}}
	}
	stopStreamAt(t, cfg(dir, 2), data, half, int64(half))
	before := dirListing(t, dir)
	// Byte 10 is in the first chunk, counted by old worker 0.
	other := []byte(data)
	other[10] ^= 1
	const stall = 100 // bytes read before the stream stalls
	for _, tc := range []struct {
		name  string
		stdin string
		want  error
	}{{"other stream", string(other), ErrOtherStream}, {"same stream", data, nil}} {
		for _, workers := range []int{1, 2, 3} {
			for _, stop := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s,workers=%d,stopped=%v", tc.name, workers, stop), func(t *testing.T) {
					d := copyDir(t, dir)
					g := newGated(tc.stdin[:stall], tc.stdin[stall:])
					var notes []string
					var mu sync.Mutex
					c := cfg(d, workers)
					c.Stdin = g
					c.NewOperator = newAllOp
					c.Checkpoint.Logf = func(format string, a ...any) {
						mu.Lock()
						notes = append(notes, fmt.Sprintf(format, a...))
						mu.Unlock()
					}
					j, err := New(c)
					if err != nil {
						t.Fatal(err)
					}
					defer j.Close()
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					done := make(chan error, 1)
					go func() { done <- j.Run(ctx) }()
					<-g.reached
					time.Sleep(10 * interval)
					p := j.Pipeline()
					if _, err := p.Checkpoint(); !errors.Is(err, pipeline.ErrCheckpointBusy) {
						t.Errorf("checkpoint asked for before the stream was verified: %v, want ErrCheckpointBusy", err)
					}
					if st := p.CheckpointStats(); st.InProgress || st.Completed+st.Failed > 0 {
						t.Errorf("checkpoints before the stream was verified: %+v", st)
					}
					if stop {
						// The stream stays stalled until the job has
						// stopped: verified meanwhile, it could take a
						// last checkpoint, rightly.
						cancel()
						err = <-done
						close(g.gate)
					} else {
						close(g.gate)
						err = <-done
					}
					switch {
					case stop && (err == nil || j.FinalCheckpoint() != 0):
						t.Errorf("stopped: %v, final checkpoint %d; want an error and none", err, j.FinalCheckpoint())
					case stop:
						mu.Lock()
						if len(notes) != 1 || !strings.Contains(notes[0], "no checkpoint taken") {
							t.Errorf("notes %q, want one saying no checkpoint was taken", notes)
						}
						mu.Unlock()
					case !errors.Is(err, tc.want): // errors.Is(err, nil) only if err is nil
						t.Fatalf("resumed: %v, want %v", err, tc.want)
					case err == nil && !j.pl.verify.done():
						t.Errorf("a correct resume ended with %d checks not passed", j.pl.verify.left.Load())
					}
					if err != nil {
						if after := dirListing(t, d); after != before {
							t.Errorf("the failed resume changed the checkpoint directory:\nbefore:\n%.2000s\nafter:\n%.2000s", before, after)
						}
					}
					// The right stream, resumed with the checkpoint's 2
					// workers, ends as an uninterrupted run.
					c = cfg(d, 2)
					c.Stdin = strings.NewReader(data)
					got, counts := runAll(t, c)
					if counts.Records != 20000 || counts.Bytes != uint64(len(data)) {
						t.Errorf("counts %+v", counts)
					}
					checkAll(t, got, want, 20000)
					if err != nil && !bytes.Equal(encoded(t, got), encoded(t, want)) {
						t.Error("resumed with 2 workers after a failed resume: sketches differ from an uninterrupted run's")
					}
				})
			}
		}
	}
}
