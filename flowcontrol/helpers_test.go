package flowcontrol

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// batch is the test buffer: records plus an identity for tracking.
type batch struct {
	recs []uint64
	id   int
}

func (b *batch) Len() int { return len(b.recs) }

// newBatches returns a constructor numbering the buffers it makes.
func newBatches(capacity int) (func() *batch, *int) {
	n := new(int)
	return func() *batch {
		*n++
		return &batch{recs: make([]uint64, 0, capacity), id: *n}
	}, n
}

func mustGate(t testing.TB, cfg Config) *Gate[*batch] {
	t.Helper()
	nb, _ := newBatches(8)
	g, err := NewGate(cfg, nb)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// waitUntil yields until cond holds: it synchronises on observable state,
// not on time. It fails the test if cond does not hold within a generous
// bound, which only a bug (a goroutine never blocking) can reach.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
	}
}

// checkInvariants verifies the credit bookkeeping of g (see credit.go).
func checkInvariants(t testing.TB, g *Gate[*batch]) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	sumFloat, sumFree := 0, 0
	for i := range g.inputs {
		s := &g.inputs[i]
		spare := 0
		if s.hasSpare {
			spare = 1
		}
		if s.hasSpare && s.out != 0 {
			t.Fatalf("input %d: spare held while %d buffers are out", i, s.out)
		}
		if got, want := s.free+s.out+spare+s.q.n+s.recv, g.exclusive+s.float; got != want {
			t.Fatalf("input %d: free %d + out %d + spare %d + backlog %d + recv %d = %d, want exclusive+floating = %d",
				i, s.free, s.out, spare, s.q.n, s.recv, got, want)
		}
		if s.free < 0 || s.float < 0 || s.out < 0 || s.recv < 0 {
			t.Fatalf("input %d: negative count: %+v", i, s.statsLocked())
		}
		sumFloat += s.float
		sumFree += s.free
	}
	if g.pool+sumFloat != g.floating {
		t.Fatalf("pool %d + lent %d != floating %d", g.pool, sumFloat, g.floating)
	}
	if len(g.bufs) != sumFree+g.pool {
		t.Fatalf("%d empty buffers stored, want credits %d + pool %d", len(g.bufs), sumFree, g.pool)
	}
}
