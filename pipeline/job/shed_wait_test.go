package job

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// waitSeen is a shedder that keeps everything and remembers the largest
// Pressure.InputWait it was shown.
type waitSeen struct {
	mu  sync.Mutex
	max time.Duration
}

func (s *waitSeen) Shed(_ *pipeline.Batch, _ time.Time, pr pipeline.Pressure) {
	s.mu.Lock()
	s.max = max(s.max, pr.InputWait)
	s.mu.Unlock()
}

// TestShedInputWait: a shedding worker tells its shedder how long it
// waited for the bytes of a stream (pipeline.InputWaiter, in the
// Pressure): a stream that pauses 50 ms twice, each time once the
// operator has seen every line before the pause, is waited for about
// those 100 ms, timed by the ShedConfig's clock; a stream whose bytes are
// all there at once is hardly waited for: less than half the run (a
// worker that counted its reading as waiting would count nearly all).
func TestShedInputWait(t *testing.T) {
	run := func(t *testing.T, in io.Reader, seen *atomic.Int64) time.Duration {
		ws := &waitSeen{}
		j, err := New(Config{
			Inputs: []string{"-"}, Stdin: in, Workers: 1,
			NewOperator: func(int) (pipeline.Operator, error) {
				return pipeline.OperatorFunc(func(in, out *pipeline.Batch) error {
					seen.Add(int64(in.Len()))
					return nil
				}), nil
			},
			Shed: &ShedConfig{NewShedder: func(int) pipeline.Shedder { return ws }},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if err := j.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := j.ws[0].InputWait(); got < ws.max {
			t.Errorf("the worker says it waited %v, its shedder saw %v", got, ws.max)
		}
		return ws.max
	}
	const burst = 2000
	lines := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "b%d-%d\n", i/burst, i%burst)
		}
		return b.String()
	}
	t.Run("paused", func(t *testing.T) {
		all := strings.SplitAfter(lines(3*burst), "\n")
		var seen atomic.Int64
		r, w := io.Pipe()
		go func() {
			defer w.Close()
			for b := range 3 {
				if b > 0 {
					// Pause once the worker is through the lines so far:
					// it then waits for the whole pause, whatever the
					// machine's load made its reading cost.
					for deadline := time.Now().Add(10 * time.Second); seen.Load() < int64(b*burst); time.Sleep(time.Millisecond) {
						if time.Now().After(deadline) {
							return // the run fails on the lines it lacks
						}
					}
					time.Sleep(50 * time.Millisecond)
				}
				io.WriteString(w, strings.Join(all[b*burst:(b+1)*burst], ""))
			}
		}()
		got := run(t, r, &seen)
		if n := seen.Load(); n != 3*burst {
			t.Fatalf("the operator saw %d lines, want %d", n, 3*burst)
		}
		t.Logf("waited %v", got)
		if got < 90*time.Millisecond || got > 5*time.Second {
			t.Errorf("waited %v for a stream that paused 2 x 50 ms, want about 100 ms", got)
		}
	})
	t.Run("all at once", func(t *testing.T) {
		var seen atomic.Int64
		start := time.Now()
		got := run(t, strings.NewReader(lines(100*burst)), &seen)
		wall := time.Since(start)
		t.Logf("waited %v of %v", got, wall)
		if got > wall/2 {
			t.Errorf("waited %v of a %v run for a stream all there at once", got, wall)
		}
	})
}
