package job

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// TestJobStopsWhenAWorkerFails: when one worker's part of the job fails
// (here its operator; a resumed worker whose stream differs fails the same
// way), the workers that read the same stream stop too and Run returns the
// error. They used to wait for the stream's next chunk for ever: the
// reader, blocked dealing to the failed worker, never sent it.
func TestJobStopsWhenAWorkerFails(t *testing.T) {
	errBoom := errors.New("boom")
	data := strings.Repeat(numberedLines(20000, 300), 40)
	for _, workers := range []int{2, 3} {
		newOp := func(i int) (pipeline.Operator, error) {
			return pipeline.OperatorFunc(func(in, out *pipeline.Batch) error {
				if i == 0 {
					return errBoom
				}
				return nil
			}), nil
		}
		j, err := New(Config{Stdin: strings.NewReader(data), Workers: workers, ChunkSize: 4096, NewOperator: newOp})
		if err != nil {
			t.Fatal(err)
		}
		ran := make(chan error, 1)
		go func() { ran <- j.Run(context.Background()) }()
		select {
		case err = <-ran:
		case <-time.After(time.Minute):
			t.Fatalf("%d workers: Run did not return after worker 0 failed", workers)
		}
		j.Close()
		if !errors.Is(err, errBoom) || errors.Is(err, context.Canceled) {
			t.Errorf("%d workers: Run returned %v, want %v", workers, err, errBoom)
		}
	}
}
