package pipeline

import (
	"context"
	"sync"
	"testing"
	"time"
)

// manualClock is a clock that moves only when told, and then by a tick on
// every reading, so that waits measure as nonzero.
type manualClock struct {
	mu   sync.Mutex
	now  time.Time
	tick time.Duration
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.tick)
	return c.now
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestMetricsStopWhenRunReturns: a snapshot taken an hour after Run
// returned equals one taken just after (Busy used to go on growing with
// the wall clock).
func TestMetricsStopWhenRunReturns(t *testing.T) {
	clock := &manualClock{now: time.Unix(1e9, 0), tick: time.Microsecond}
	keys := zipfKeys(20_000, 3)
	p, err := New(sources(keys, 2), []Stage{
		{Name: "a", Parallelism: 2, New: func(int) (Operator, error) { return &fingerprint{}, nil }},
		{Name: "b", Input: ByKey, Parallelism: 3, New: func(int) (Operator, error) { return &fingerprint{}, nil }},
	}, Config{BatchSize: 64, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	m1 := p.Metrics()
	clock.advance(time.Hour)
	m2 := p.Metrics()
	if m2.Elapsed != m1.Elapsed || m1.Elapsed <= 0 || m1.Elapsed > time.Hour {
		t.Errorf("Elapsed %v, an hour later %v; want it fixed at Run's duration", m1.Elapsed, m2.Elapsed)
	}
	for i := range m1.Operators {
		a, b := m1.Operators[i], m2.Operators[i]
		if a.Busy != b.Busy || a.Idle != b.Idle || a.BackPressured != b.BackPressured {
			t.Errorf("%s[%d]: busy/idle/back-pressured %v/%v/%v, an hour later %v/%v/%v", a.Stage, a.Instance, a.Busy, a.Idle, a.BackPressured, b.Busy, b.Idle, b.BackPressured)
		}
		if a.Busy+a.Idle+a.BackPressured != m1.Elapsed {
			t.Errorf("%s[%d]: busy+idle+back-pressured %v != elapsed %v", a.Stage, a.Instance, a.Busy+a.Idle+a.BackPressured, m1.Elapsed)
		}
	}
	if len(m2.Sources) != 2 || m2.Sources[0] != m1.Sources[0] {
		t.Errorf("sources %+v, an hour later %+v", m1.Sources, m2.Sources)
	}
	if r := m2.Rates(m1); len(r) == 0 || r[0].BusyMsPerSec != 0 {
		t.Errorf("rates after the run: %+v; want busy 0 ms/s", r)
	}
}

// slowSource returns nothing on its first empty calls (a live stream with
// nothing new yet), then its keys.
type slowSource struct {
	keySource
	empty int
}

func (s *slowSource) Fill(ctx context.Context, b *Batch, max int) error {
	if s.empty > 0 {
		s.empty--
		return nil
	}
	return s.keySource.Fill(ctx, b, max)
}

// TestSourceMetrics: every source has an entry counting its records, its
// idle time (empty Fills) and its back-pressure (a slow operator behind a
// channel with little credit).
func TestSourceMetrics(t *testing.T) {
	keys := zipfKeys(6400, 4)
	slow := func(int) (Operator, error) {
		return OperatorFunc(func(in, out *Batch) error { time.Sleep(time.Millisecond); return nil }), nil
	}
	src0 := &slowSource{keySource: *newKeySource(keys, 0, 3200), empty: 50}
	src1 := newKeySource(keys, 3200, 6400)
	p, err := New([]Source{src0, src1}, []Stage{
		{Name: "slow", Input: ByKey, Parallelism: 1, New: slow},
	}, Config{BatchSize: 32, Exclusive: 2, Floating: 1, Clock: &manualClock{now: time.Unix(1e9, 0), tick: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := p.Metrics()
	if len(m.Sources) != 2 {
		t.Fatalf("%d source entries, want 2", len(m.Sources))
	}
	for i, s := range m.Sources {
		if s.Source != i || s.Records != 3200 {
			t.Errorf("source %d: %+v; want 3200 records", i, s)
		}
		if s.BackPressured <= 0 {
			t.Errorf("source %d: no back-pressure behind a slow operator: %+v", i, s)
		}
		if s.Busy+s.Idle+s.BackPressured != m.Elapsed {
			t.Errorf("source %d: busy+idle+back-pressured %v != elapsed %v", i, s.Busy+s.Idle+s.BackPressured, m.Elapsed)
		}
	}
	if m.Sources[0].Idle < 50*time.Millisecond {
		t.Errorf("idle %v; want >= 50 ms for the source with 50 empty Fills", m.Sources[0].Idle)
	}
}

// keepAll is a Shedder that keeps everything.
type keepAll struct{}

func (keepAll) Shed(b *Batch, now time.Time, p Pressure) {}

// TestSourceMetricsWithShedder: a source behind a shedder is counted too.
func TestSourceMetricsWithShedder(t *testing.T) {
	keys := zipfKeys(5000, 8)
	p, err := New(sources(keys, 2), []Stage{
		{Name: "fp", Input: ByKey, Parallelism: 2, New: func(int) (Operator, error) { return &fingerprint{}, nil }},
	}, Config{BatchSize: 64, NewShedder: func(int) Shedder { return keepAll{} }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, s := range p.Metrics().Sources {
		total += s.Records
	}
	if total != 5000 {
		t.Errorf("sources counted %d records behind a shedder, want 5000", total)
	}
}
