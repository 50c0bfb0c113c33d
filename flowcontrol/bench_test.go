package flowcontrol

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkChannel moves b.N batches from producer goroutines to one
// consumer through a Gate with the default credits, then the same number
// through a plain buffered Go channel of the same capacity (the baseline,
// which neither recycles buffers nor bounds anything beyond its capacity),
// and reports both and their ratio (gate/chan). For context it also runs
// the idiomatic bounded Go equivalent, a data channel plus a channel of
// free buffers to recycle (gate/chan-recycling). No data is copied, so bytes/s would
// only restate batches/s: none is set.
func BenchmarkChannel(b *testing.B) {
	for _, inputs := range []int{1, 4} {
		b.Run(fmt.Sprintf("inputs=%d", inputs), func(b *testing.B) {
			cfg := Config{Inputs: inputs}
			capacity := inputs*DefaultExclusive + DefaultFloating
			g := mustGate(b, cfg)
			per := (b.N + inputs - 1) / inputs
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			runGate(b, g, per)
			gate := time.Since(start)
			b.StopTimer()
			base := runChan(capacity, inputs, per)
			recycling := runRecyclingChan(capacity, inputs, per)
			n := float64(per * inputs)
			b.ReportMetric(n/gate.Seconds(), "batches/s")
			b.ReportMetric(float64(base.Nanoseconds())/n, "chan-ns/batch")
			b.ReportMetric(gate.Seconds()/base.Seconds(), "gate/chan")
			b.ReportMetric(gate.Seconds()/recycling.Seconds(), "gate/chan-recycling")
		})
	}
}

func runGate(b *testing.B, g *Gate[*batch], per int) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < g.Inputs(); i++ {
		wg.Add(1)
		go func(s *Sender[*batch]) {
			defer wg.Done()
			defer s.Close()
			for k := 0; k < per; k++ {
				buf, err := s.Acquire(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				buf.recs = append(buf.recs[:0], uint64(k))
				if err := s.Send(ctx, buf); err != nil {
					b.Error(err)
					return
				}
			}
		}(g.Sender(i))
	}
	for {
		buf, in, err := g.Recv(ctx)
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		g.Release(in, buf)
	}
	wg.Wait()
}

func runChan(capacity, inputs, per int) time.Duration {
	bufs := make([]*batch, capacity+inputs)
	for i := range bufs {
		bufs[i] = &batch{recs: make([]uint64, 0, 8)}
	}
	c := make(chan *batch, capacity)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < inputs; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := 0; k < per; k++ {
				c <- bufs[(i+k)%len(bufs)] // fixed buffers: no allocation either
			}
		}(i)
	}
	go func() { wg.Wait(); close(c) }()
	var sink uint64
	for buf := range c {
		sink += uint64(cap(buf.recs))
	}
	_ = sink
	return time.Since(start)
}

func runRecyclingChan(capacity, inputs, per int) time.Duration {
	free := make(chan *batch, capacity)
	for i := 0; i < capacity; i++ {
		free <- &batch{recs: make([]uint64, 0, 8)}
	}
	c := make(chan *batch, capacity)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < inputs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < per; k++ {
				buf := <-free
				buf.recs = append(buf.recs[:0], uint64(k))
				c <- buf
			}
		}()
	}
	go func() { wg.Wait(); close(c) }()
	for buf := range c {
		free <- buf
	}
	return time.Since(start)
}

// BenchmarkRoundTrip is the uncontended cost of one batch's loop on one
// goroutine: Acquire, Send, Recv, Release.
func BenchmarkRoundTrip(b *testing.B) {
	g := mustGate(b, Config{})
	s := g.Sender(0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		buf, _ := s.Acquire(ctx)
		s.Send(ctx, buf)
		r, in, _ := g.Recv(ctx)
		g.Release(in, r)
	}
}

func BenchmarkStats(b *testing.B) {
	g := mustGate(b, Config{Inputs: 8})
	b.ReportAllocs()
	for b.Loop() {
		g.Stats()
	}
}

func BenchmarkDebloaterObserve(b *testing.B) {
	d, _ := NewDebloater(DebloatConfig{})
	now := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(200 * time.Millisecond)
		d.Observe(now, 10_000, 10)
	}
}
