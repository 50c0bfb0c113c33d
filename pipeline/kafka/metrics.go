package kafka

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamstat/streamstat/pipeline"
)

// loadClock splits the poll loop's time since Run started into the time
// it waited in PollRecords for records and the rest: processing and
// checkpointing, while no input is read. The run loop writes it; Metrics
// reads it from any goroutine.
type loadClock struct {
	mu          sync.Mutex
	start, stop time.Time // stop: zero while Run runs
	waited      atomic.Int64
}

func (c *loadClock) begin(now time.Time) {
	c.mu.Lock()
	c.start = now
	c.mu.Unlock()
}

func (c *loadClock) end(now time.Time) {
	c.mu.Lock()
	c.stop = now
	c.mu.Unlock()
}

func (c *loadClock) wait(d time.Duration) { c.waited.Add(int64(d)) }

// elapsed returns the time since Run started, up to now or to Run's end.
func (c *loadClock) elapsed(now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		return 0
	}
	if !c.stop.IsZero() {
		now = c.stop
	}
	return max(now.Sub(c.start), 0)
}

// busy returns the time up to now not spent waiting for records.
func (c *loadClock) busy(now time.Time) time.Duration {
	return max(c.elapsed(now)-time.Duration(c.waited.Load()), 0)
}

// partMetrics are the counters of one input partition over the worker's
// run, whoever of its states took the records (those of aborted
// transactions are counted, and counted again when taken again).
type partMetrics struct {
	seen            atomic.Bool
	polled, in, out atomic.Uint64
	busy            atomic.Int64 // ns in the shedder and operator
}

// count adds one take of partition p: polled records, of which in reached
// the operator, which emitted out, in busy.
func (w *Worker) count(p int32, polled, in, out int, busy time.Duration) {
	pm := w.pmets.Load()
	if pm == nil || int(p) >= len(*pm) || p < 0 {
		return
	}
	m := &(*pm)[p]
	m.seen.Store(true)
	m.polled.Add(uint64(polled))
	m.in.Add(uint64(in))
	m.out.Add(uint64(out))
	m.busy.Add(int64(busy))
}

// Metrics returns the worker's counters shaped as a pipeline's, so that
// what reads a pipeline's (pipeline/observe's page, through its Runtime
// interface) reads a worker's: one source, the poll loop (Records: the
// records polled; Idle: the time it waited for records; Busy: the rest,
// processing and checkpointing), and one operator instance per input
// partition this worker has taken records of, stage "partition",
// Instance the partition number (RecordsIn: the records its operator
// took, after shedding; RecordsOut: those it emitted; Busy: the time in
// its shedder and operator; Idle: the rest of Elapsed). Counters are
// cumulative since Run started, over every owner the partition had in
// this worker, and stop when Run returns. It may be called from any
// goroutine.
func (w *Worker) Metrics() pipeline.Metrics {
	now := time.Now()
	el := w.load.elapsed(now)
	busy := w.load.busy(now)
	m := pipeline.Metrics{Time: now, Elapsed: el}
	src := pipeline.SourceMetrics{Busy: busy, Idle: max(el-busy, 0)}
	if pm := w.pmets.Load(); pm != nil {
		for i := range *pm {
			pmi := &(*pm)[i]
			if !pmi.seen.Load() {
				continue
			}
			b := time.Duration(pmi.busy.Load())
			src.Records += pmi.polled.Load()
			m.Operators = append(m.Operators, pipeline.OperatorMetrics{
				Stage: "partition", Instance: i,
				RecordsIn: pmi.in.Load(), RecordsOut: pmi.out.Load(),
				Busy: b, Idle: max(el-b, 0),
			})
		}
	}
	m.Sources = []pipeline.SourceMetrics{src}
	return m
}

// CheckpointStats returns the worker's transactions shaped as a
// pipeline's checkpoints: Completed the committed ones (LastID their
// count, LastDuration and LastPause the last one's time from Begin to
// End, the poll loop held up throughout, LastSize its snapshot bytes),
// Failed the aborted ones and those of unknown outcome, LastError the
// last one's error.
func (w *Worker) CheckpointStats() pipeline.CheckpointStats {
	st := w.Stats()
	cs := pipeline.CheckpointStats{
		Completed: st.Committed, Failed: st.Aborted + st.Failed,
		InProgress: w.stats.inCkpt.Load(), LastID: st.Committed,
		LastDuration: st.LastCheckpoint, LastPause: st.LastCheckpoint,
		LastSize: st.LastCheckpointBytes, LastError: st.LastError,
	}
	return cs
}

// Branches returns nil: a worker's operators form no fan-out. With
// Metrics and CheckpointStats it makes a Worker what pipeline/observe
// reads (observe.Runtime).
func (w *Worker) Branches() []pipeline.BranchStats { return nil }
