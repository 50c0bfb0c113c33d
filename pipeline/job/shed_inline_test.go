package job

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// keepAll is a shedder that keeps every record at p = 1.
type keepAll struct{}

func (keepAll) Shed(b *pipeline.Batch, _ time.Time, _ pipeline.Pressure) {
	for i := range b.Records {
		b.Records[i].KeepP = 1
	}
}

// TestShedRunsInline: with Shed set and nothing shed, a worker runs its
// operator in its own goroutine (pipeline's inline run while the shedder
// keeps everything), as without Shed, not across the channel the pipeline
// puts in front of it: the stage must not be NoChain.
func TestShedRunsInline(t *testing.T) {
	var b strings.Builder
	for i := range 200_000 {
		fmt.Fprintf(&b, "k%d\n", i%5000)
	}
	inline, batches := 0, 0
	buf := make([]byte, 64<<10)
	j, err := New(Config{
		Inputs: []string{"-"}, Stdin: strings.NewReader(b.String()), Workers: 1,
		NewOperator: func(int) (pipeline.Operator, error) {
			return pipeline.OperatorFunc(func(in, out *pipeline.Batch) error {
				batches++
				if strings.Contains(string(buf[:runtime.Stack(buf, false)]), "(*task).inline") {
					inline++
				}
				return nil
			}), nil
		},
		Shed: &ShedConfig{NewShedder: func(int) pipeline.Shedder { return keepAll{} }},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The first batches may cross the channel: the operator's goroutine
	// had not started.
	if batches < 100 || inline < batches-5 {
		t.Errorf("%d of %d batches were processed in the worker's goroutine: want all but the first few", inline, batches)
	}
}
