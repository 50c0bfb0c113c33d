package pipeline

import (
	"time"
)

// OperatorMetrics is a snapshot of one operator instance. Idle and
// BackPressured belong to the goroutine the instance runs in, so operators
// chained together report the same values, as in Flink. The zero value is an
// empty snapshot.
type OperatorMetrics struct {
	Stage    string
	Instance int
	// RecordsIn and RecordsOut count records processed and passed on.
	RecordsIn, RecordsOut uint64
	// Idle is time the goroutine waited for input; BackPressured is time
	// it waited for credit downstream; Busy is the rest of the time since
	// Run started. The channels measure the waits (reading the clock only
	// when someone waits), so the data path reads no clock at all. For a
	// goroutine headed by a source, time inside the source's Fill counts
	// as busy.
	Busy, Idle, BackPressured time.Duration
	// Backlog is the number of batches queued at the instance's input
	// channel, Credits the credits its senders hold unused, and
	// QueueUsage the fraction of the channel's buffers in flight (0 for
	// instances chained to a source).
	Backlog, Credits int
	QueueUsage       float64
}

// Metrics is a snapshot of the whole pipeline at Time, Elapsed after Run
// started.
type Metrics struct {
	Time      time.Time
	Elapsed   time.Duration
	Operators []OperatorMetrics
}

// Metrics returns a snapshot. It takes each channel's lock briefly and never
// an operator's, so it is cheap enough to call every second: the counters
// themselves are two atomic adds per operator per batch, always on.
func (p *Pipeline) Metrics() Metrics {
	now := p.clock.Now()
	m := Metrics{Time: now}
	if start := p.start.Load(); start != nil {
		m.Elapsed = now.Sub(*start)
	}
	for _, sg := range p.segs {
		for i := range sg.par {
			var idle, bp time.Duration
			var backlog, credits int
			var usage float64
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
			for s := max(sg.first, 0); s <= sg.last && sg.last >= 0; s++ {
				inst := p.ops[s][i]
				m.Operators = append(m.Operators, OperatorMetrics{
					Stage: p.stages[s].Name, Instance: i,
					RecordsIn: inst.in.Load(), RecordsOut: inst.out.Load(),
					Busy: max(m.Elapsed-idle-bp, 0),
					Idle: idle, BackPressured: bp,
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
