package job

import (
	"context"
	"fmt"
	"io"
	"sync"
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
// Pressure): a stream that pauses 50 ms twice between bursts is waited
// for about 100 ms, timed by the ShedConfig's clock; a stream read
// straight through is hardly waited for.
func TestShedInputWait(t *testing.T) {
	run := func(t *testing.T, pause time.Duration) time.Duration {
		r, w := io.Pipe()
		go func() {
			for burst := range 3 {
				if burst > 0 {
					time.Sleep(pause)
				}
				for i := range 2000 {
					fmt.Fprintf(w, "b%d-%d\n", burst, i)
				}
			}
			w.Close()
		}()
		seen := &waitSeen{}
		j, err := New(Config{
			Inputs: []string{"-"}, Stdin: r, Workers: 1,
			NewOperator: func(int) (pipeline.Operator, error) {
				return pipeline.OperatorFunc(func(in, out *pipeline.Batch) error { return nil }), nil
			},
			Shed: &ShedConfig{NewShedder: func(int) pipeline.Shedder { return seen }},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if err := j.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := j.ws[0].InputWait(); got < seen.max {
			t.Errorf("the worker says it waited %v, its shedder saw %v", got, seen.max)
		}
		return seen.max
	}
	if got := run(t, 50*time.Millisecond); got < 90*time.Millisecond || got > 5*time.Second {
		t.Errorf("waited %v for a stream that paused 2 x 50 ms, want about 100 ms", got)
	}
	if got := run(t, 0); got > 50*time.Millisecond {
		t.Errorf("waited %v for a stream written straight through", got)
	}
}
