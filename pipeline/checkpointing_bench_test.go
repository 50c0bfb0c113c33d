package pipeline

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/streamstat/streamstat/pipeline/checkpoint"
	"github.com/streamstat/streamstat/sketch"
)

// timeBoxed ends a source after a fixed time.
type timeBoxed struct {
	*Generator
	end time.Time
}

func (s *timeBoxed) Fill(ctx context.Context, b *Batch, max int) error {
	if time.Now().After(s.end) {
		return io.EOF
	}
	return s.Generator.Fill(ctx, b, max)
}

// BenchmarkCheckpointOverhead runs one workload, a generator into a 16 MiB
// Bloom filter (dedup), for a fixed time with a checkpoint every second into a
// directory store and with checkpoints off, and reports the throughput
// ratio (with ÷ without; target >= 0.97), the checkpoint duration and the
// pause of the data path per MiB of state.
func BenchmarkCheckpointOverhead(b *testing.B) {
	const runFor = 4 * time.Second
	run := func(ck *CheckpointConfig) (records float64, p *Pipeline) {
		gen, err := NewGenerator(GeneratorConfig{Seed: 5, Keys: 1 << 22})
		if err != nil {
			b.Fatal(err)
		}
		p, err = New([]Source{&timeBoxed{Generator: gen, end: time.Now().Add(runFor)}}, []Stage{{
			Name: "dedup",
			New: func(int) (Operator, error) {
				f, err := sketch.NewBloomMK(1<<27, 3) // 16 MiB of bits
				return &Dedup{Bloom: f}, err
			},
		}}, Config{Checkpoint: ck})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := p.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		return float64(gen.Position()) / time.Since(start).Seconds(), p
	}
	var with, without, dur, pause, size float64
	for b.Loop() {
		store, err := checkpoint.NewDirStore(b.TempDir(), 2, b.Logf)
		if err != nil {
			b.Fatal(err)
		}
		w, p := run(&CheckpointConfig{Store: store, Interval: time.Second})
		wo, _ := run(nil)
		with += w
		without += wo
		st := p.CheckpointStats()
		if st.Completed == 0 {
			b.Fatalf("no checkpoint completed: %+v", st)
		}
		dur += st.LastDuration.Seconds()
		pause += st.LastPause.Seconds()
		size += float64(st.LastSize)
	}
	n := float64(b.N)
	b.ReportMetric(with/without, "throughput-ratio")
	b.ReportMetric(dur/n*1e3, "checkpoint-ms")
	b.ReportMetric(pause/n*1e3/(size/n/(1<<20)), "pause-ms/MiB")
	b.ReportMetric(size/n/(1<<20), "state-MiB")
}
