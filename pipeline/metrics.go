package pipeline

import (
	"context"
	"sync/atomic"
	"time"
)

// OperatorMetrics is a snapshot of one operator instance. Idle and
// BackPressured belong to the goroutine the instance runs in, so operators
// chained together (and to a source) report the same values, as in Flink.
// The zero value is an empty snapshot.
type OperatorMetrics struct {
	Stage    string
	Instance int
	// RecordsIn and RecordsOut count records processed and passed on.
	RecordsIn, RecordsOut uint64
	// Idle is time the goroutine waited for input (for one headed by a
	// source, the source's Idle), and, once it has ended, the time since;
	// BackPressured is time it waited for credit downstream; Busy is the
	// rest of Elapsed. The channels measure the waits, reading the clock
	// only when someone waits. Busy stops when the goroutine ends, and all
	// three when Run returns: a snapshot after that stays the same.
	Busy, Idle, BackPressured time.Duration
	// Backlog is the number of batches queued at the instance's input
	// channel, Credits the credits its senders hold unused, and
	// QueueUsage the fraction of the channel's buffers in flight (0 for
	// instances chained to a source).
	Backlog, Credits int
	QueueUsage       float64
}

// SourceMetrics is a snapshot of one source's goroutine. The zero value is
// an empty snapshot.
type SourceMetrics struct {
	Source int
	// Records counts the records the source produced (before a Shedder
	// drops any; a shedder reports its own counts).
	Records uint64
	// Idle is time in Fill calls that returned no record (a live stream
	// with nothing new) and, once the source has ended, the time since;
	// BackPressured is time the goroutine waited for credit downstream
	// (the source produces faster than what follows consumes: with a
	// Shedder, this is when it sheds); Busy is the rest of Elapsed: Fill
	// calls that produced records and the operators chained to it. A
	// source that blocks inside Fill until input arrives and then returns
	// it shows that wait as busy. Idle costs one clock read per Fill (none
	// with Config.NoMetrics). All three stop when Run returns.
	Busy, Idle, BackPressured time.Duration
}

// Metrics is a snapshot of the whole pipeline at Time, Elapsed after Run
// started (Elapsed stops when Run returns).
type Metrics struct {
	Time      time.Time
	Elapsed   time.Duration
	Sources   []SourceMetrics
	Operators []OperatorMetrics
}

// runMetrics are the counters of one Run that are not an instance's.
type runMetrics struct {
	ended [][]atomic.Int64 // per segment and instance: 1 + elapsed ns at its end; 0 while it runs
	src   []sourceCounters
}

type sourceCounters struct {
	records atomic.Uint64
	idle    atomic.Int64 // ns
}

func (p *Pipeline) newRunMetrics() *runMetrics {
	rm := &runMetrics{ended: make([][]atomic.Int64, len(p.segs)), src: make([]sourceCounters, len(p.sources))}
	for k, sg := range p.segs {
		rm.ended[k] = make([]atomic.Int64, sg.par)
	}
	return rm
}

// fill calls the source's Fill, counting its records and, if it returned
// none and the source is not done, the time it took as idle.
func (t *task) fill(ctx context.Context, b *Batch, n int) error {
	if t.p.cfg.NoMetrics {
		return t.src.Fill(ctx, b, n)
	}
	sc := &t.p.rm.Load().src[t.idx]
	start, before := t.fillStart(), b.Len()
	err := t.src.Fill(ctx, b, n)
	if got := b.Len() - before; got > 0 {
		sc.records.Add(uint64(got))
	} else if err == nil {
		sc.idle.Add(int64(t.p.clock.Now().Sub(start)))
	}
	return err
}

// Metrics returns a snapshot. It takes each channel's lock briefly and never
// an operator's, so it is cheap enough to call every second: the counters
// themselves are two atomic adds per operator per batch, always on.
func (p *Pipeline) Metrics() Metrics {
	now := p.clock.Now()
	m := Metrics{Time: now}
	start := p.start.Load()
	rm := p.rm.Load()
	if start != nil {
		if end := p.end.Load(); end != nil {
			now = *end
		}
		m.Elapsed = now.Sub(*start)
	}
	for k, sg := range p.segs {
		for i := range sg.par {
			var idle, bp, after time.Duration
			var backlog, credits int
			var usage float64
			if rm != nil {
				if e := rm.ended[k][i].Load(); e > 0 {
					after = max(m.Elapsed-time.Duration(e-1), 0)
				}
				if sg.first < 0 {
					idle = time.Duration(rm.src[i].idle.Load())
				}
			}
			if sg.gates != nil {
				gs := sg.gates[i].Stats()
				idle, backlog, credits = gs.Idle, gs.Backlog, gs.Credits
				if gs.Buffers > 0 {
					usage = float64(gs.InFlight) / float64(gs.Buffers)
				}
			}
			for _, down := range sg.down {
				for j, g := range down.gates {
					in := i
					if down.input == Forward {
						if j != i {
							continue
						}
						in = 0
					}
					bp += g.InputStats(in).BackPressured
				}
			}
			idle += after // a goroutine that has ended waits for the others
			busy := max(m.Elapsed-idle-bp, 0)
			if sg.first < 0 {
				sm := SourceMetrics{Source: i, Busy: busy, Idle: idle, BackPressured: bp}
				if rm != nil {
					sm.Records = rm.src[i].records.Load()
				}
				m.Sources = append(m.Sources, sm)
			}
			for s := max(sg.first, 0); s <= sg.last && sg.last >= 0; s++ {
				inst := p.ops[s][i]
				m.Operators = append(m.Operators, OperatorMetrics{
					Stage: p.stages[s].Name, Instance: i,
					RecordsIn: inst.in.Load(), RecordsOut: inst.out.Load(),
					Busy: busy, Idle: idle, BackPressured: bp,
					Backlog: backlog, Credits: credits, QueueUsage: usage,
				})
			}
		}
	}
	return m
}

// OperatorRates are one instance's rates between two snapshots: records per
// second and, as Flink's busyTimeMsPerSecond and friends, milliseconds per
// second busy, idle and back-pressured.
type OperatorRates struct {
	Stage                                             string
	Instance                                          int
	InPerSec, OutPerSec                               float64
	BusyMsPerSec, IdleMsPerSec, BackPressuredMsPerSec float64
}

// Rates returns the rates of every instance between prev and m, two
// snapshots of the same pipeline.
func (m Metrics) Rates(prev Metrics) []OperatorRates {
	dt := m.Time.Sub(prev.Time).Seconds()
	if dt <= 0 || len(prev.Operators) != len(m.Operators) {
		return nil
	}
	ms := func(a, b time.Duration) float64 { return float64(a-b) / float64(time.Millisecond) / dt }
	r := make([]OperatorRates, len(m.Operators))
	for i, o := range m.Operators {
		q := prev.Operators[i]
		r[i] = OperatorRates{
			Stage: o.Stage, Instance: o.Instance,
			InPerSec:              float64(o.RecordsIn-q.RecordsIn) / dt,
			OutPerSec:             float64(o.RecordsOut-q.RecordsOut) / dt,
			BusyMsPerSec:          ms(o.Busy, q.Busy),
			IdleMsPerSec:          ms(o.Idle, q.Idle),
			BackPressuredMsPerSec: ms(o.BackPressured, q.BackPressured),
		}
	}
	return r
}

// SourceRates are one source's rates between two snapshots.
type SourceRates struct {
	Source                                            int
	OutPerSec                                         float64
	BusyMsPerSec, IdleMsPerSec, BackPressuredMsPerSec float64
}

// SourceRates returns the rates of every source between prev and m, two
// snapshots of the same pipeline.
func (m Metrics) SourceRates(prev Metrics) []SourceRates {
	dt := m.Time.Sub(prev.Time).Seconds()
	if dt <= 0 || len(prev.Sources) != len(m.Sources) {
		return nil
	}
	ms := func(a, b time.Duration) float64 { return float64(a-b) / float64(time.Millisecond) / dt }
	r := make([]SourceRates, len(m.Sources))
	for i, o := range m.Sources {
		q := prev.Sources[i]
		r[i] = SourceRates{
			Source:                o.Source,
			OutPerSec:             float64(o.Records-q.Records) / dt,
			BusyMsPerSec:          ms(o.Busy, q.Busy),
			IdleMsPerSec:          ms(o.Idle, q.Idle),
			BackPressuredMsPerSec: ms(o.BackPressured, q.BackPressured),
		}
	}
	return r
}
