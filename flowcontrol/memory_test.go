package flowcontrol

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMemoryBoundedWithSlowConsumer pushes tens of MiB from fast producers
// through a consumer that does 100 times their work per batch. Producers
// spend most of the run back-pressured; in-flight batches never exceed the
// buffers, no buffer beyond them is ever made, and the heap stays flat.
// Without flow control the backlog, and the heap, would grow with nearly
// everything pushed.
func TestMemoryBoundedWithSlowConsumer(t *testing.T) {
	const (
		inputs    = 4
		exclusive = 2
		floating  = 4
		work      = 100 // consumer passes over a batch per producer pass
	)
	words, perInput := 8192, 200 // 64 KiB batches, 50 MiB in all
	if testing.Short() {
		words, perInput = 2048, 100 // 6 MiB: the race detector is slow
	}
	nb, made := newBatches(words)
	g, err := NewGate(Config{Inputs: inputs, Exclusive: exclusive, Floating: floating}, nb)
	if err != nil {
		t.Fatal(err)
	}
	buffers := inputs*exclusive + floating
	ctx := context.Background()

	var live, maxLive atomic.Int64 // filled and not yet consumed
	noteLive := func(d int64) {
		v := live.Add(d)
		for m := maxLive.Load(); v > m && !maxLive.CompareAndSwap(m, v); m = maxLive.Load() {
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, inputs)
	for i := 0; i < inputs; i++ {
		wg.Add(1)
		go func(s *Sender[*batch]) {
			defer wg.Done()
			defer s.Close()
			for seq := 0; seq < perInput; seq++ {
				b, err := s.Acquire(ctx)
				if err != nil {
					errs <- err
					return
				}
				noteLive(1)
				b.recs = b.recs[:words]
				for k := range b.recs {
					b.recs[k] = uint64(seq)<<32 | uint64(k)
				}
				if err := s.Send(ctx, b); err != nil {
					errs <- err
					return
				}
			}
		}(g.Sender(i))
	}

	var ms runtime.MemStats
	var lo, hi uint64
	next := make([]uint64, inputs)
	var sink uint64
	for n := 0; ; n++ {
		b, in, err := g.Recv(ctx)
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := b.recs[0] >> 32; got != next[in] {
			t.Fatalf("input %d: batch %d arrived, want %d", in, got, next[in])
		}
		next[in]++
		for pass := 0; pass < work; pass++ {
			for _, r := range b.recs {
				sink += r ^ uint64(pass)
			}
		}
		noteLive(-1)
		g.Release(in, b)
		if gs := g.Stats(); gs.InFlight > buffers || gs.Credits+gs.FloatingFree+gs.InFlight != buffers {
			t.Fatalf("after %d batches: %+v", n, gs)
		}
		if n%20 == 19 {
			runtime.ReadMemStats(&ms)
			if lo == 0 || ms.HeapInuse < lo {
				lo = ms.HeapInuse
			}
			hi = max(hi, ms.HeapInuse)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	pushed := uint64(inputs*perInput*words) * 8
	const margin = 4 << 20
	t.Logf("pushed %d MiB; HeapInuse %d..%d KiB; max live batches %d of %d buffers; "+
		"input 0 back-pressured %v of %v; checksum %x",
		pushed>>20, lo>>10, hi>>10, maxLive.Load(), buffers,
		g.InputStats(0).BackPressured.Round(time.Millisecond), g.Stats().Elapsed.Round(time.Millisecond), sink)
	if m := maxLive.Load(); m > int64(buffers) {
		t.Errorf("%d batches live at once, want at most exclusive+floating = %d", m, buffers)
	}
	if *made != buffers {
		t.Errorf("%d buffers made, want exactly %d", *made, buffers)
	}
	if hi-lo > margin {
		t.Errorf("HeapInuse grew from %d to %d KiB while pushing %d MiB, want within %d KiB",
			lo>>10, hi>>10, pushed>>20, margin>>10)
	}
	for i, n := range next {
		if n != uint64(perInput) {
			t.Errorf("input %d: %d batches received, want %d", i, n, perInput)
		}
	}
}
