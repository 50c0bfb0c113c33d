package job

import (
	"context"
	"fmt"
	"io"
	"strings"
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
// for at least those 100 ms, timed by the ShedConfig's clock; a stream
// whose bytes are all there at once is hardly waited for.
func TestShedInputWait(t *testing.T) {
	run := func(t *testing.T, in io.Reader) time.Duration {
		seen := &waitSeen{}
		j, err := New(Config{
			Inputs: []string{"-"}, Stdin: in, Workers: 1,
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
	var all strings.Builder
	for burst := range 3 {
		for i := range 2000 {
			fmt.Fprintf(&all, "b%d-%d\n", burst, i)
		}
	}
	r, w := io.Pipe()
	go func() {
		lines := strings.SplitAfter(all.String(), "\n")
		for burst := range 3 {
			if burst > 0 {
				time.Sleep(50 * time.Millisecond)
			}
			io.WriteString(w, strings.Join(lines[burst*2000:(burst+1)*2000], ""))
		}
		w.Close()
	}()
	if got := run(t, r); got < 90*time.Millisecond || got > 5*time.Second {
		t.Errorf("waited %v for a stream that paused 2 x 50 ms, want about 100 ms", got)
	}
	if got := run(t, strings.NewReader(all.String())); got > 40*time.Millisecond {
		t.Errorf("waited %v for a stream all there at once", got)
	}
}
