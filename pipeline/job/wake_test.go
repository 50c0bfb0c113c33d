package job

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
)

// TestCheckpointQuietStream: a checkpoint triggered while every worker
// waits on a quiet stream completes (the pipeline wakes them: there is no
// periodic return to fall back on), holds exactly the bytes read so far,
// and neither the woken run nor a run resumed from that checkpoint loses
// or repeats a record.
func TestCheckpointQuietStream(t *testing.T) {
	data := numberedLines(20000, 500)
	half := strings.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	want, _ := runAll(t, Config{Stdin: strings.NewReader(data), Workers: 2, ChunkSize: 4096})
	dir := t.TempDir()
	settled := make(chan error, 8)
	g := newGated(data[:half], data[half:])
	j, err := New(Config{Stdin: g, Workers: 2, ChunkSize: 4096, NewOperator: newAllOp,
		Checkpoint: &CheckpointConfig{Dir: dir, Interval: time.Hour, OnComplete: func(_ checkpoint.Manifest, err error) { settled <- err }}})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	done := make(chan error, 1)
	go func() { done <- j.Run(context.Background()) }()
	<-g.reached
	for deadline := time.Now().Add(60 * time.Second); j.Counts().Bytes != uint64(half); {
		if time.Now().After(deadline) {
			t.Fatalf("read %d of the first %d bytes", j.Counts().Bytes, half)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := j.Pipeline().Checkpoint(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-settled:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a checkpoint on a quiet stream did not complete in 60 s: the workers were not woken")
	}
	if c := coveredIn(dir, 0); c != int64(half) {
		t.Errorf("checkpoint holds %d bytes, want %d", c, half)
	}
	resumeDir := copyDir(t, dir)
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := mergedAll(t, j); !maps.Equal(got.exact, want.exact) {
		t.Error("the woken run lost or repeated records")
	}
	got, counts := runAll(t, Config{Stdin: strings.NewReader(data), Workers: 2, ChunkSize: 4096,
		Checkpoint: &CheckpointConfig{Dir: resumeDir, Interval: time.Hour, Resume: true}})
	if counts.Records != 20000 {
		t.Errorf("resumed counts %+v", counts)
	}
	checkAll(t, got, want, 20000)
}
